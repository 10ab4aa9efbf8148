package io.drey.sqlgateway;

import org.apache.flink.table.catalog.CatalogBaseTable;
import org.apache.flink.table.catalog.CatalogFunction;
import org.apache.flink.table.operations.CreateTableASOperation;
import org.apache.flink.table.operations.Operation;
import org.apache.flink.table.operations.ReplaceTableAsOperation;
import org.apache.flink.table.operations.command.AddJarOperation;
import org.apache.flink.table.operations.ddl.AlterTableChangeOperation;
import org.apache.flink.table.operations.ddl.CreateCatalogFunctionOperation;
import org.apache.flink.table.operations.ddl.CreateTableOperation;
import org.apache.flink.table.operations.ddl.CreateTempSystemFunctionOperation;
import org.apache.flink.table.resource.ResourceUri;

import java.net.URI;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * What a statement may name on this machine's file system: jars of {@code USING JAR} and
 * {@code ADD JAR}, and the {@code path} of {@code filesystem} tables, must lie under one of
 * the roots drey gives the session ({@value #ROOTS_KEY}: the environment's artifacts and the
 * directories the operator shares), never elsewhere in drey's data dir ({@value #DENIED_KEY}). The gateway loads such jars into its own JVM, so a jar
 * from anywhere else would run a tenant's code with drey's rights. Remote file systems
 * ({@code s3://}, {@code hdfs://}, ...) are the cluster's business and pass.
 */
final class PathPolicy {
    /** The session property drey sets; statements cannot change it. */
    static final String ROOTS_KEY = "drey.sql.allowed-paths";

    /** Dynamic table options ({@code /*+ OPTIONS('path'=...) *}{@code /}) would bypass it. */
    static final String DYNAMIC_OPTIONS_KEY = "table.dynamic-table-options.enabled";

    private static final Set<String> REMOTE =
            Set.of("s3", "s3a", "s3n", "s3p", "hdfs", "viewfs", "gs", "abfs", "abfss", "oss",
                    "wasb", "wasbs", "cosn", "obs");

    /** Directories no path may be in unless a root inside them grants it (drey's data dir). */
    static final String DENIED_KEY = "drey.sql.denied-paths";

    private final List<Path> roots;
    private final List<Path> denied;
    private final boolean enforced;

    PathPolicy(Map<String, String> properties) {
        enforced = properties.containsKey(ROOTS_KEY);
        roots = paths(properties.get(ROOTS_KEY));
        denied = paths(properties.get(DENIED_KEY));
    }

    private static List<Path> paths(String value) {
        List<Path> out = new ArrayList<>();
        if (value != null) {
            for (String root : value.split(";")) {
                if (!root.isBlank()) {
                    out.add(Paths.get(root).toAbsolutePath().normalize());
                }
            }
        }
        return out;
    }

    /**
     * Whether a root grants {@code path}: it holds the path, and no denied directory holds the
     * path without holding the root too (the environment's artifacts lie inside drey's data
     * dir; a shared directory that holds the data dir does not open it).
     */
    private boolean granted(Path path) {
        for (Path root : roots) {
            if (!path.startsWith(root)) {
                continue;
            }
            boolean shadowed = false;
            for (Path d : denied) {
                if (path.startsWith(d) && !root.startsWith(d)) {
                    shadowed = true;
                }
            }
            if (!shadowed) {
                return true;
            }
        }
        return false;
    }

    /**
     * Keys a statement may not SET or RESET in a session under the policy: the policy and what
     * would bypass it.
     */
    boolean owns(String key) {
        return enforced && (key.startsWith("drey.") || key.equals(DYNAMIC_OPTIONS_KEY));
    }

    /** Refuses an operation that names a local path outside the roots. */
    void check(Operation op) {
        if (!enforced) {
            return;
        }
        if (op instanceof AddJarOperation) {
            checkPath("ADD JAR", ((AddJarOperation) op).getPath());
        } else if (op instanceof CreateCatalogFunctionOperation) {
            checkFunction(((CreateCatalogFunctionOperation) op).getCatalogFunction());
        } else if (op instanceof CreateTempSystemFunctionOperation) {
            checkFunction(((CreateTempSystemFunctionOperation) op).getCatalogFunction());
        } else if (op instanceof CreateTableOperation) {
            checkTable(((CreateTableOperation) op).getCatalogTable());
        } else if (op instanceof CreateTableASOperation) {
            checkTable(((CreateTableASOperation) op).getCreateTableOperation().getCatalogTable());
        } else if (op instanceof ReplaceTableAsOperation) {
            checkTable(((ReplaceTableAsOperation) op).getCreateTableOperation().getCatalogTable());
        } else if (op instanceof AlterTableChangeOperation) {
            checkTable(((AlterTableChangeOperation) op).getNewTable());
        } else {
            checkByReflection(op);
        }
    }

    private void checkFunction(CatalogFunction function) {
        if (function == null) {
            return;
        }
        for (ResourceUri uri : function.getFunctionResources()) {
            checkPath("USING JAR", uri.getUri());
        }
    }

    /**
     * Operations of other classes (temporary catalog functions, the planner's own forms of
     * CREATE TABLE AS) name their function, table or nested create the same way.
     */
    private void checkByReflection(Object op) {
        Object function = call(op, "getCatalogFunction");
        if (function instanceof CatalogFunction) {
            checkFunction((CatalogFunction) function);
        }
        Object create = call(op, "getCreateTableOperation");
        if (create instanceof Operation) {
            check((Operation) create);
        }
        for (String getter : new String[] {"getCatalogTable", "getNewTable", "getTable"}) {
            Object table = call(op, getter);
            if (table instanceof CatalogBaseTable) {
                checkTable((CatalogBaseTable) table);
            }
        }
    }

    private static Object call(Object target, String method) {
        try {
            return target.getClass().getMethod(method).invoke(target);
        } catch (NoSuchMethodException e) {
            return null;
        } catch (ReflectiveOperationException e) {
            throw new Gateway.BadRequest("cannot check the statement's resources: " + e);
        }
    }

    private void checkTable(CatalogBaseTable table) {
        if (table == null) {
            return;
        }
        Map<String, String> options = table.getOptions();
        if ("filesystem".equals(options.get("connector")) && options.containsKey("path")) {
            checkPath("a filesystem table's path", options.get("path"));
        }
    }

    private void checkPath(String what, String text) {
        URI uri;
        try {
            uri = new URI(text.trim());
        } catch (Exception e) {
            uri = null;
        }
        String scheme = uri == null || uri.getScheme() == null
                ? "file"
                : uri.getScheme().toLowerCase(Locale.ROOT);
        if (REMOTE.contains(scheme)) {
            return;
        }
        if (scheme.equals("file")) {
            String local = uri != null && uri.getScheme() != null ? uri.getPath() : text.trim();
            if (local != null && !local.isEmpty()) {
                if (granted(Paths.get(local).toAbsolutePath().normalize())) {
                    return;
                }
            }
        }
        throw new Gateway.BadRequest(
                what + " '" + text + "' is outside what this environment may use: its "
                        + "artifacts and the directories the server shares with clusters");
    }
}
