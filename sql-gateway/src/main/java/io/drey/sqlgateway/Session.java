package io.drey.sqlgateway;

import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableConfig;
import org.apache.flink.table.api.bridge.java.internal.StreamTableEnvironmentImpl;
import org.apache.flink.table.api.internal.TableResultInternal;
import org.apache.flink.table.catalog.CatalogManager;
import org.apache.flink.table.catalog.CatalogStoreHolder;
import org.apache.flink.table.catalog.Column;
import org.apache.flink.table.catalog.FunctionCatalog;
import org.apache.flink.table.catalog.GenericInMemoryCatalog;
import org.apache.flink.table.catalog.ResolvedSchema;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.delegation.Executor;
import org.apache.flink.table.delegation.ExecutorFactory;
import org.apache.flink.table.delegation.Planner;
import org.apache.flink.table.delegation.StreamExecutorFactory;
import org.apache.flink.table.factories.ApiFactoryUtil;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.PlannerFactoryUtil;
import org.apache.flink.table.factories.TableFactoryUtil;
import org.apache.flink.table.module.ModuleManager;
import org.apache.flink.table.operations.ModifyOperation;
import org.apache.flink.table.operations.Operation;
import org.apache.flink.table.operations.QueryOperation;
import org.apache.flink.table.operations.StatementSetOperation;
import org.apache.flink.table.operations.command.ResetOperation;
import org.apache.flink.table.operations.command.SetOperation;
import org.apache.flink.table.resource.ResourceManager;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.FlinkUserCodeClassLoaders;
import org.apache.flink.util.MutableURLClassLoader;

import java.net.URL;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A session: its properties (changed by SET/RESET), its catalogs, modules, functions and
 * jars, and its operations. Like Flink's own gateway, every statement runs in a new
 * TableEnvironment over the session's shared catalog manager, so a statement's
 * executionConfig applies to that statement only.
 */
final class Session {

    /** What running a statement produced: a schema, its rows and the job, if one was submitted. */
    static final class Outcome {
        final ResolvedSchema schema;
        final CloseableIterator<RowData> rows;
        final String resultKind;
        final boolean isQuery;
        final JobClient job;

        Outcome(
                ResolvedSchema schema,
                CloseableIterator<RowData> rows,
                String resultKind,
                boolean isQuery,
                JobClient job) {
            this.schema = schema;
            this.rows = rows;
            this.resultKind = resultKind;
            this.isQuery = isQuery;
            this.job = job;
        }

        /** Releases still running, so a shutdown can wait for them (bounded). */
        static final Set<Thread> RELEASING = ConcurrentHashMap.newKeySet();

        private final AtomicBoolean released = new AtomicBoolean();

        /**
         * Closes the rows once, on a background thread (it may wait for the cluster); for a
         * query this cancels its job (the collect sink's iterator does).
         */
        void release() {
            if (released.compareAndSet(false, true)) {
                Thread t =
                        new Thread(
                                () -> {
                                    try {
                                        rows.close();
                                    } catch (Exception e) {
                                        Main.log("closing a result failed: " + e);
                                    } finally {
                                        RELEASING.remove(Thread.currentThread());
                                    }
                                },
                                "release-result");
                t.setDaemon(true);
                RELEASING.add(t);
                t.start();
            }
        }
    }

    final String handle;
    final String name;
    private final Gateway gateway;
    private final Configuration defaults;
    /** The session configuration; guarded by itself. */
    private final Configuration conf;

    private final MutableURLClassLoader classLoader;
    private final ResourceManager resourceManager;
    private final ModuleManager moduleManager;
    private final CatalogManager catalogManager;
    private final FunctionCatalog functionCatalog;
    private final Map<String, SqlOperation> operations = new ConcurrentHashMap<>();
    private final PathPolicy paths;
    private volatile long lastAccess = System.currentTimeMillis();

    Session(Gateway gateway, String handle, String name, Map<String, String> properties) {
        this.gateway = gateway;
        this.handle = handle;
        this.name = name;
        this.paths = new PathPolicy(properties);
        Map<String, String> initial = new TreeMap<>(properties);
        if (initial.containsKey(PathPolicy.ROOTS_KEY)) {
            initial.put(PathPolicy.DYNAMIC_OPTIONS_KEY, "false");
        }
        this.conf = Configuration.fromMap(initial);
        this.defaults = new Configuration(conf);
        this.classLoader =
                FlinkUserCodeClassLoaders.create(new URL[0], Session.class.getClassLoader(), conf);
        this.resourceManager = new ResourceManager(conf, classLoader);
        this.moduleManager = new ModuleManager();
        EnvironmentSettings settings =
                EnvironmentSettings.newInstance().withConfiguration(conf).build();
        ApiFactoryUtil.CatalogStoreResult store =
                ApiFactoryUtil.getOrCreateCatalogStore(Optional.empty(), conf, classLoader);
        StreamExecutionEnvironment env = new StreamExecutionEnvironment(conf, classLoader);
        this.catalogManager =
                CatalogManager.newBuilder()
                        .classLoader(classLoader)
                        .config(conf)
                        .defaultCatalog(
                                settings.getBuiltInCatalogName(),
                                new GenericInMemoryCatalog(
                                        settings.getBuiltInCatalogName(),
                                        settings.getBuiltInDatabaseName()))
                        .executionConfig(env.getConfig())
                        .catalogModificationListeners(
                                TableFactoryUtil.findCatalogModificationListenerList(
                                        conf, classLoader))
                        .catalogStoreHolder(
                                CatalogStoreHolder.newBuilder()
                                        .classloader(classLoader)
                                        .config(conf)
                                        .catalogStore(store.getCatalogStore())
                                        .factory(store.getCatalogStoreFactory())
                                        .build())
                        .build();
        this.functionCatalog =
                new FunctionCatalog(conf, resourceManager, catalogManager, moduleManager);
    }

    void touch() {
        lastAccess = System.currentTimeMillis();
    }

    long lastAccess() {
        return lastAccess;
    }

    Map<String, String> properties() {
        synchronized (conf) {
            return new TreeMap<>(conf.toMap());
        }
    }

    SqlOperation submit(String statement, Map<String, String> executionConfig) {
        String op = UUID.randomUUID().toString();
        SqlOperation operation =
                new SqlOperation(op, this, statement, executionConfig, gateway.bufferRows());
        operations.put(op, operation);
        operation.start(gateway.workers);
        return operation;
    }

    SqlOperation operation(String op) {
        SqlOperation o = operations.get(op);
        if (o == null) {
            throw new Gateway.NotFound(
                    "Operation '" + op + "' does not exist in session '" + handle + "'.");
        }
        return o;
    }

    String closeOperation(String op) {
        String status = operation(op).close();
        operations.remove(op);
        return status;
    }

    /** Runs a configuring statement (DDL, USE, SET, ...) synchronously. */
    void configure(String statement) throws Exception {
        Outcome o = run(statement, Map.of(), true);
        o.release();
    }

    /**
     * Parses and runs one statement in a new TableEnvironment. Queries return their (open)
     * row iterator; a statement that submitted a job (INSERT, STATEMENT SET) returns one
     * row holding the job id, as Flink's gateway does.
     */
    Outcome run(String statement, Map<String, String> executionConfig, boolean configureOnly)
            throws Exception {
        StreamTableEnvironmentImpl tEnv = tableEnvironment(executionConfig);
        List<Operation> parsed = tEnv.getParser().parse(statement);
        if (parsed.size() != 1) {
            throw new Gateway.BadRequest("Only a single statement is supported.");
        }
        Operation op = parsed.get(0);
        paths.check(op);
        if (configureOnly
                && (op instanceof QueryOperation
                        || op instanceof ModifyOperation
                        || op instanceof StatementSetOperation)) {
            throw new Gateway.BadRequest(
                    "Unsupported statement for configuring the session: " + statement);
        }
        if (op instanceof SetOperation) {
            return set((SetOperation) op);
        }
        if (op instanceof ResetOperation) {
            return reset((ResetOperation) op);
        }
        TableResultInternal result = tEnv.executeInternal(op);
        boolean isQuery = op instanceof QueryOperation;
        JobClient job = result.getJobClient().orElse(null);
        if (!isQuery && job != null) {
            List<RowData> rows = new ArrayList<>();
            rows.add(GenericRowData.of(StringData.fromString(job.getJobID().toHexString())));
            return new Outcome(
                    ResolvedSchema.of(Column.physical("job id", DataTypes.STRING())),
                    CloseableIterator.fromList(rows, r -> {}),
                    "SUCCESS_WITH_CONTENT",
                    false,
                    job);
        }
        return new Outcome(
                result.getResolvedSchema(),
                result.collectInternal(),
                result.getResultKind().name(),
                isQuery,
                job);
    }

    private Outcome set(SetOperation op) {
        if (op.getKey().isPresent() && paths.owns(op.getKey().get())) {
            throw new Gateway.BadRequest("'" + op.getKey().get() + "' is set by drey");
        }
        if (op.getKey().isPresent() && op.getValue().isPresent()) {
            synchronized (conf) {
                conf.setString(op.getKey().get(), op.getValue().get());
            }
            return ok();
        }
        List<RowData> rows = new ArrayList<>();
        for (Map.Entry<String, String> e : properties().entrySet()) {
            rows.add(
                    GenericRowData.of(
                            StringData.fromString(e.getKey()),
                            StringData.fromString(e.getValue())));
        }
        return new Outcome(
                ResolvedSchema.of(
                        Column.physical("key", DataTypes.STRING()),
                        Column.physical("value", DataTypes.STRING())),
                CloseableIterator.fromList(rows, r -> {}),
                "SUCCESS_WITH_CONTENT",
                false,
                null);
    }

    private Outcome reset(ResetOperation op) {
        synchronized (conf) {
            if (op.getKey().isPresent()) {
                String key = op.getKey().get();
                if (paths.owns(key)) {
                    throw new Gateway.BadRequest("'" + key + "' is set by drey");
                }
                conf.removeKey(key);
                String initial = defaults.toMap().get(key);
                if (initial != null) {
                    conf.setString(key, initial);
                }
            } else {
                for (String key : new ArrayList<>(conf.keySet())) {
                    conf.removeKey(key);
                }
                conf.addAll(defaults);
            }
        }
        return ok();
    }

    private static Outcome ok() {
        List<RowData> rows = new ArrayList<>();
        rows.add(GenericRowData.of(StringData.fromString("OK")));
        return new Outcome(
                ResolvedSchema.of(Column.physical("result", DataTypes.STRING())),
                CloseableIterator.fromList(rows, r -> {}),
                "SUCCESS",
                false,
                null);
    }

    /** A new TableEnvironment over the session's catalogs, configured for one statement. */
    private StreamTableEnvironmentImpl tableEnvironment(Map<String, String> executionConfig) {
        Configuration c;
        synchronized (conf) {
            c = new Configuration(conf);
        }
        for (String key : executionConfig.keySet()) {
            if (paths.owns(key)) {
                throw new Gateway.BadRequest("'" + key + "' is set by drey");
            }
        }
        c.addAll(Configuration.fromMap(executionConfig));
        StreamExecutionEnvironment env = new StreamExecutionEnvironment(c, classLoader);
        ExecutorFactory factory =
                FactoryUtil.discoverFactory(
                        classLoader, ExecutorFactory.class, ExecutorFactory.DEFAULT_IDENTIFIER);
        Executor executor = ((StreamExecutorFactory) factory).create(env);
        TableConfig tableConfig = TableConfig.getDefault();
        tableConfig.setRootConfiguration(executor.getConfiguration());
        tableConfig.addConfiguration(c);
        Planner planner =
                PlannerFactoryUtil.createPlanner(
                        executor,
                        tableConfig,
                        classLoader,
                        moduleManager,
                        catalogManager,
                        functionCatalog);
        boolean streaming = c.get(ExecutionOptions.RUNTIME_MODE) != RuntimeExecutionMode.BATCH;
        return new StreamTableEnvironmentImpl(
                catalogManager,
                moduleManager,
                resourceManager,
                functionCatalog,
                tableConfig,
                env,
                planner,
                executor,
                streaming);
    }

    /**
     * Closes every operation (a running query's job is cancelled with it; jobs submitted by
     * INSERT keep running on their cluster) and frees the session's resources.
     */
    void close() {
        for (String op : new ArrayList<>(operations.keySet())) {
            SqlOperation o = operations.remove(op);
            if (o != null) {
                o.close();
            }
        }
        try {
            catalogManager.close();
        } catch (Exception e) {
            Main.log("closing the catalogs of session " + handle + " failed: " + e);
        }
        try {
            resourceManager.close();
        } catch (Exception e) {
            Main.log("closing the resources of session " + handle + " failed: " + e);
        }
    }
}
