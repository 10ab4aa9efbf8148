package io.drey.testjobs;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * A hostile user-defined function for the attack matrix of crates/drey/tests/isolation.rs: code
 * that runs in drey's SQL gateway while a statement is planned (Flink instantiates a function to
 * infer its types). Its constructor finds drey's data dir the way an attacker would, from the
 * gateway's own command line ({@code --port-file <data-dir>/sql-gateway/.../port}), tries to
 * read drey's database and keys there, lists the environments of the artifact store it can see,
 * and fails with one line saying what it got:
 *
 * <pre>
 * PEEK in &lt;main class&gt;: drey.db ok &lt;bytes&gt;; secret.key denied NoSuchFileException; ...;
 * artifacts [org/env, ...]
 * </pre>
 *
 * The failure is the report: it reaches the caller as the statement's error.
 */
public final class PeekFunction extends ScalarFunction {
    public PeekFunction() {
        throw new IllegalStateException(peek());
    }

    static String peek() {
        List<String> outcomes = new ArrayList<>();
        String where = System.getProperty("sun.java.command", "?").split(" ")[0];
        Path dataDir = dataDir();
        if (dataDir == null) {
            return "PEEK in " + where + ": no --port-file on the command line";
        }
        for (String name : new String[] {"drey.db", "secret.key", "root.key"}) {
            Path path = dataDir.resolve(name);
            try {
                outcomes.add(name + " ok " + Files.readAllBytes(path).length);
            } catch (Exception e) {
                outcomes.add(name + " denied " + e.getClass().getSimpleName());
            }
        }
        List<String> envs = new ArrayList<>();
        try (java.util.stream.Stream<Path> orgs = Files.list(dataDir.resolve("artifacts"))) {
            for (Path org : (Iterable<Path>) orgs::iterator) {
                try (java.util.stream.Stream<Path> inOrg = Files.list(org)) {
                    inOrg.forEach(env -> envs.add(org.getFileName() + "/" + env.getFileName()));
                }
            }
        } catch (Exception e) {
            envs.add("denied " + e.getClass().getSimpleName());
        }
        java.util.Collections.sort(envs);
        outcomes.add("artifacts " + envs);
        return "PEEK in " + where + " (" + dataDir + "): " + String.join("; ", outcomes);
    }

    /** What lies before {@code sql-gateway} in the gateway's port file, if the process names one. */
    private static Path dataDir() {
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc/self/cmdline"));
            String[] args = new String(raw, StandardCharsets.UTF_8).split("\0");
            for (int i = 0; i + 1 < args.length; i++) {
                if (args[i].equals("--port-file")) {
                    Path dir = Path.of(args[i + 1]).getParent();
                    while (dir != null && !dir.getFileName().toString().equals("sql-gateway")) {
                        dir = dir.getParent();
                    }
                    return dir == null ? null : dir.getParent();
                }
            }
        } catch (Exception e) {
            return null;
        }
        return null;
    }

    public String eval(String s) {
        return s;
    }
}
