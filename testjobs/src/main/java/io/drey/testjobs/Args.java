package io.drey.testjobs;

/** Minimal `--name value` argument parsing shared by the test jobs. */
final class Args {
    private final String[] args;

    Args(String[] args) {
        this.args = args;
    }

    String get(String name, String fallback) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals("--" + name)) {
                return args[i + 1];
            }
        }
        return fallback;
    }

    long getLong(String name, long fallback) {
        String v = get(name, null);
        return v == null ? fallback : Long.parseLong(v);
    }
}
