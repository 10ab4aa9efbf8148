package io.drey.testjobs;

import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * What a hostile tenant's job tries on the machine drey runs it on (the attack matrix of
 * crates/drey/tests/isolation.rs). It tries each thing twice, in {@code main()} (which runs in
 * the JobManager when a jar is run through the REST API) and in a task (in a TaskManager), and
 * prints one line per attempt to stdout, which drey sends to the process's {@code .out} log:
 *
 * <pre>
 * ATTACK &lt;where&gt; read &lt;path&gt; ok &lt;bytes&gt;     |  ATTACK &lt;where&gt; read &lt;path&gt; denied &lt;why&gt;
 * ATTACK &lt;where&gt; rest &lt;url&gt; ok &lt;status&gt;      |  ... denied &lt;why&gt;
 * ATTACK &lt;where&gt; rest-as-drey &lt;url&gt; ok ...    (with drey's client certificate for that
 *                                                cluster, when its files could be read)
 * ATTACK &lt;where&gt; drey &lt;url&gt; ok &lt;status&gt;      |  ... denied &lt;why&gt;
 * ATTACK &lt;where&gt; list &lt;dir&gt; ok &lt;entries&gt;     |  ... denied &lt;why&gt;
 * ATTACK &lt;where&gt; bind 0.0.0.0 ok &lt;port&gt;       |  ... denied &lt;why&gt;
 * </pre>
 *
 * Arguments: {@code --read a,b,c} files to read; {@code --rest URL} another cluster's REST
 * base URL; {@code --drey-dir DIR} that cluster's {@code drey/} directory (drey's client
 * certificate for it); {@code --drey URL} drey's own API on the host's loopback; {@code
 * --list a,b} directories to list; {@code --label L} prefixes {@code where} ({@code L-jm}). A port it
 * binds keeps serving ({@code attack-served} to whoever connects) for ten minutes, so the
 * test can try to reach it from the host. The job finishes after one element.
 */
public final class AttackJob {
    private AttackJob() {}

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        String read = args.get("read", "");
        String rest = args.get("rest", "");
        String dreyDir = args.get("drey-dir", "");
        String drey = args.get("drey", "");
        String list = args.get("list", "");
        String label = args.get("label", "");
        String prefix = label.isEmpty() ? "" : label + "-";
        attack(prefix + "jm", read, rest, dreyDir, drey, list);

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        env.fromData("attack")
                .map(
                        x -> {
                            attack(prefix + "tm", read, rest, dreyDir, drey, list);
                            return x;
                        })
                .name("attack")
                .print();
        env.execute("drey-test-attack-job");
    }

    static void attack(
            String where, String read, String rest, String dreyDir, String drey, String list) {
        List<String> lines = new ArrayList<>();
        for (String dir : list.split(",")) {
            if (dir.isEmpty()) {
                continue;
            }
            try (java.util.stream.Stream<Path> entries = Files.list(Path.of(dir))) {
                lines.add("list " + dir + " ok " + entries.count());
            } catch (Exception e) {
                lines.add("list " + dir + " denied " + oneLine(e));
            }
        }
        for (String path : read.split(",")) {
            if (path.isEmpty()) {
                continue;
            }
            try {
                byte[] bytes = Files.readAllBytes(Path.of(path));
                lines.add("read " + path + " ok " + bytes.length);
            } catch (Exception e) {
                lines.add("read " + path + " denied " + oneLine(e));
            }
        }
        if (!rest.isEmpty()) {
            try {
                lines.add("rest " + rest + " ok " + get(rest + "/overview", null));
            } catch (Exception e) {
                lines.add("rest " + rest + " denied " + oneLine(e));
            }
            try {
                lines.add(
                        "rest-as-drey " + rest + " ok " + get(rest + "/overview", dreyKeys(dreyDir)));
            } catch (Exception e) {
                lines.add("rest-as-drey " + rest + " denied " + oneLine(e));
            }
        }
        if (!drey.isEmpty()) {
            try {
                lines.add("drey " + drey + " ok " + get(drey + "/healthz", null));
            } catch (Exception e) {
                lines.add("drey " + drey + " denied " + oneLine(e));
            }
        }
        // The capabilities it holds (root outside keeps them inside unless dropped).
        try {
            String caps =
                    Files.readAllLines(Path.of("/proc/self/status")).stream()
                            .filter(l -> l.startsWith("CapEff:"))
                            .map(l -> l.substring("CapEff:".length()).trim())
                            .findFirst()
                            .orElse("unknown");
            lines.add("caps " + caps);
        } catch (Exception e) {
            lines.add("caps unknown " + oneLine(e));
        }
        try {
            ServerSocket socket = new ServerSocket(0, 50, InetAddress.getByName("0.0.0.0"));
            serve(socket);
            lines.add("bind 0.0.0.0 ok " + socket.getLocalPort());
        } catch (Exception e) {
            lines.add("bind 0.0.0.0 denied " + oneLine(e));
        }
        for (String line : lines) {
            System.out.println("ATTACK " + where + " " + line);
        }
        System.out.flush();
    }

    /** Answers {@code attack-served} on {@code socket} for ten minutes, in a daemon thread. */
    static void serve(ServerSocket socket) throws Exception {
        socket.setSoTimeout(1000);
        long until = System.currentTimeMillis() + 600_000;
        Thread thread =
                new Thread(
                        () -> {
                            try (ServerSocket s = socket) {
                                while (System.currentTimeMillis() < until) {
                                    try (java.net.Socket c = s.accept()) {
                                        c.getOutputStream()
                                                .write(
                                                        "attack-served\n"
                                                                .getBytes(StandardCharsets.UTF_8));
                                    } catch (java.net.SocketTimeoutException e) {
                                        // look at the clock again
                                    }
                                }
                            } catch (Exception e) {
                                // the job's JVM goes away
                            }
                        },
                        "attack-server");
        thread.setDaemon(true);
        thread.start();
    }

    /** GETs {@code url}, trusting any server certificate, presenting {@code keys} if given. */
    static int get(String url, KeyManager[] keys) throws Exception {
        HttpURLConnection conn = (HttpURLConnection) new URL(url).openConnection();
        conn.setConnectTimeout(5000);
        conn.setReadTimeout(5000);
        if (conn instanceof HttpsURLConnection) {
            SSLContext ssl = SSLContext.getInstance("TLS");
            ssl.init(keys, new TrustManager[] {new TrustAll()}, new SecureRandom());
            HttpsURLConnection https = (HttpsURLConnection) conn;
            https.setSSLSocketFactory(ssl.getSocketFactory());
            https.setHostnameVerifier((host, session) -> true);
        }
        int status = conn.getResponseCode();
        try (InputStream in = status < 400 ? conn.getInputStream() : conn.getErrorStream()) {
            if (in != null) {
                in.readAllBytes();
            }
        }
        return status;
    }

    /** drey's client key for a cluster, from its {@code drey/} directory. */
    static KeyManager[] dreyKeys(String dir) throws Exception {
        String json =
                new String(
                        Files.readAllBytes(Path.of(dir, "client.json")), StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("\"password\"\\s*:\\s*\"([^\"]*)\"").matcher(json);
        if (!m.find()) {
            throw new IllegalStateException("no password in client.json");
        }
        char[] password = m.group(1).toCharArray();
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(Path.of(dir, "client.p12"))) {
            store.load(in, password);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(store, password);
        return kmf.getKeyManagers();
    }

    static String oneLine(Throwable e) {
        String s = e.getClass().getSimpleName() + ": " + e.getMessage();
        return s.replace('\n', ' ');
    }

    /** Trusts every server: the attack is about the client side. */
    static final class TrustAll implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
