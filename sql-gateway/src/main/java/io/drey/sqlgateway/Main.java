package io.drey.sqlgateway;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.concurrent.Executors;

/**
 * drey's SQL gateway: a small HTTP service speaking the Flink SQL Gateway REST protocol
 * ({@code /v1}..{@code /v4}) in front of Flink's Table API. Every session owns a catalog, and
 * each statement runs in a fresh TableEnvironment over that catalog, configured from the
 * session's properties plus the statement's {@code executionConfig}; jobs are submitted as a
 * client to the cluster the properties name ({@code execution.target: remote},
 * {@code rest.address}, {@code rest.port}).
 *
 * <p>Usage: {@code java -cp drey-sql-gateway.jar:$FLINK_HOME/lib/* io.drey.sqlgateway.Main
 * --port 0 --bind 127.0.0.1 --port-file <path> [--session-idle-timeout-seconds 1800]
 * [--buffer-rows 10000]}. Port 0 binds any free port; the bound port is written atomically to
 * the port file once the server accepts requests.
 */
public final class Main {

    private Main() {}

    /** Entry point. */
    public static void main(String[] args) throws Exception {
        int port = 8083;
        String bind = "127.0.0.1";
        Path portFile = null;
        long idleTimeoutSeconds = 1800;
        int bufferRows = 10_000;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String value = i + 1 < args.length ? args[i + 1] : null;
            if (value == null) {
                usage("missing value for " + arg);
            }
            switch (arg) {
                case "--port":
                    port = Integer.parseInt(value);
                    break;
                case "--bind":
                    bind = value;
                    break;
                case "--port-file":
                    portFile = Path.of(value);
                    break;
                case "--session-idle-timeout-seconds":
                    idleTimeoutSeconds = Long.parseLong(value);
                    break;
                case "--buffer-rows":
                    bufferRows = Integer.parseInt(value);
                    break;
                default:
                    usage("unknown argument " + arg);
            }
            i++;
        }

        Gateway gateway = new Gateway(idleTimeoutSeconds * 1000L, bufferRows);
        HttpServer server = HttpServer.create(new InetSocketAddress(bind, port), 128);
        server.createContext("/", new Http(gateway));
        server.setExecutor(Executors.newFixedThreadPool(8, Gateway.daemonThreads("http")));
        server.start();
        int bound = server.getAddress().getPort();
        Runtime.getRuntime()
                .addShutdownHook(
                        new Thread(
                                () -> {
                                    log("shutting down");
                                    server.stop(0);
                                    gateway.closeAll();
                                    // Closing cancels running queries' jobs; wait for that,
                                    // but never long for an unreachable cluster.
                                    long deadline = System.currentTimeMillis() + 5000;
                                    for (Thread t : Session.Outcome.RELEASING) {
                                        long left = deadline - System.currentTimeMillis();
                                        try {
                                            if (left > 0) {
                                                t.join(left);
                                            }
                                        } catch (InterruptedException e) {
                                            return;
                                        }
                                    }
                                }));
        if (portFile != null) {
            writeAtomically(portFile, bound + "\n");
        }
        log(
                "drey SQL gateway listening on "
                        + bind
                        + ":"
                        + bound
                        + " (session idle timeout "
                        + idleTimeoutSeconds
                        + "s, java.io.tmpdir "
                        + System.getProperty("java.io.tmpdir")
                        + ")");
    }

    private static void usage(String problem) {
        System.err.println("drey-sql-gateway: " + problem);
        System.err.println(
                "usage: io.drey.sqlgateway.Main [--port N] [--bind ADDR] [--port-file PATH]"
                        + " [--session-idle-timeout-seconds N] [--buffer-rows N]");
        System.exit(2);
    }

    private static void writeAtomically(Path file, String text) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (dir != null) {
            Files.createDirectories(dir);
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.write(tmp, text.getBytes(StandardCharsets.UTF_8));
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** One line on stdout, with a timestamp. */
    static void log(String message) {
        System.out.println(Instant.now() + " " + message);
        System.out.flush();
    }
}
