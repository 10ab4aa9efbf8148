package io.drey.sqlgateway;

import org.apache.flink.table.data.RowData;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;

/**
 * One submitted statement: it runs on a worker thread, which then drains the statement's
 * rows into a bounded buffer that clients page through with tokens.
 *
 * <p>Status: PENDING until a worker picks it up, RUNNING while it compiles and submits and —
 * for a query — while its rows are produced, FINISHED once all rows are buffered (for an
 * INSERT: once the job is submitted; the job keeps running on the cluster), ERROR when
 * parsing, planning, submission or the query's job failed, CANCELED / CLOSED on request.
 *
 * <p>Tokens: fetching token N+1 releases batch N; fetching N again returns batch N again.
 * While the statement runs and no row is buffered, a fetch answers NOT_READY and points at
 * the same token (Flink's gateway answers an empty PAYLOAD pointing at the next token
 * once the statement has been submitted); once every row has been fetched, EOS.
 */
final class SqlOperation {

    /** Flink's OperationStatus names. */
    enum Status {
        INITIALIZED,
        PENDING,
        RUNNING,
        FINISHED,
        CANCELED,
        CLOSED,
        ERROR,
        TIMEOUT;

        boolean isTerminal() {
            return this != INITIALIZED && this != PENDING && this != RUNNING;
        }
    }

    /** What a fetch returns. */
    static final class Page {
        final String resultType;
        final Session.Outcome outcome;
        final List<RowData> rows;
        /** The token the next fetch should use; null at EOS. */
        final Long nextToken;

        Page(String resultType, Session.Outcome outcome, List<RowData> rows, Long nextToken) {
            this.resultType = resultType;
            this.outcome = outcome;
            this.rows = rows;
            this.nextToken = nextToken;
        }
    }

    /** A failed operation's cause; answered with 500 and the cause's full stack trace. */
    static final class Failed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failed(String message, Throwable cause) {
            super(message, cause, false, false);
        }
    }

    final String handle;
    private final Session session;
    private final String statement;
    private final Map<String, String> executionConfig;
    private final int bufferRows;

    private Status status = Status.INITIALIZED;
    private Throwable error;
    private Session.Outcome outcome;
    private final ArrayDeque<RowData> buffer = new ArrayDeque<>();
    private boolean drained;
    private long currentToken;
    private List<RowData> previous = List.of();

    SqlOperation(
            String handle,
            Session session,
            String statement,
            Map<String, String> executionConfig,
            int bufferRows) {
        this.handle = handle;
        this.session = session;
        this.statement = statement;
        this.executionConfig = executionConfig;
        this.bufferRows = Math.max(1, bufferRows);
    }

    synchronized void start(ExecutorService workers) {
        status = Status.PENDING;
        workers.execute(this::execute);
    }

    synchronized String status() {
        return status.name();
    }

    private void execute() {
        synchronized (this) {
            if (status != Status.PENDING) {
                return;
            }
            status = Status.RUNNING;
        }
        Session.Outcome o;
        try {
            o = session.run(statement, executionConfig, false);
        } catch (Throwable t) {
            synchronized (this) {
                if (status == Status.RUNNING) {
                    status = Status.ERROR;
                    error = t;
                }
            }
            Main.log("operation " + handle + " failed: " + firstLine(t));
            return;
        }
        boolean stopped;
        synchronized (this) {
            stopped = status != Status.RUNNING;
            if (!stopped) {
                outcome = o;
            }
        }
        if (stopped) {
            // Cancelled or closed while it was being submitted: undo the submission.
            o.release();
            if (o.job != null) {
                o.job.cancel();
            }
            return;
        }
        Main.log(
                "operation "
                        + handle
                        + (o.job == null ? "" : " submitted job " + o.job.getJobID())
                        + (o.isQuery ? " (query)" : "")
                        + " in session "
                        + session.handle);
        drain(o);
    }

    /** Moves the rows into the buffer; blocks while the buffer holds bufferRows rows. */
    private void drain(Session.Outcome o) {
        int capacity = o.isQuery ? bufferRows : Integer.MAX_VALUE;
        try {
            while (o.rows.hasNext()) {
                RowData row = o.rows.next();
                synchronized (this) {
                    while (buffer.size() >= capacity && status == Status.RUNNING) {
                        wait();
                    }
                    if (status != Status.RUNNING) {
                        return;
                    }
                    buffer.add(row);
                }
            }
            synchronized (this) {
                drained = true;
                if (status == Status.RUNNING) {
                    status = Status.FINISHED;
                }
            }
        } catch (Throwable t) {
            synchronized (this) {
                if (status != Status.RUNNING) {
                    return; // cancelled or closed: the iterator was closed under us
                }
                drained = true;
                status = Status.ERROR;
                error = t;
            }
            Main.log("operation " + handle + " failed while producing rows: " + firstLine(t));
            o.release();
        }
    }

    /** Cancels a running operation; a finished one keeps its status. */
    String cancel() {
        return stop(Status.CANCELED);
    }

    /** Closes the operation and frees its rows (a running query's job is cancelled). */
    String close() {
        return stop(Status.CLOSED);
    }

    private String stop(Status target) {
        Session.Outcome o;
        synchronized (this) {
            if (target == Status.CANCELED && status.isTerminal()) {
                return status.name();
            }
            status = target;
            o = outcome;
            buffer.clear();
            previous = List.of();
            notifyAll();
        }
        if (o != null) {
            o.release();
        }
        Main.log("operation " + handle + " " + target.name().toLowerCase());
        return target.name();
    }

    /** The page for `token` (see the class comment for the token rules). */
    synchronized Page fetch(long token, int maxRows) {
        if (status == Status.CANCELED || status == Status.CLOSED) {
            throw new IllegalStateException(
                    "Can not fetch results from the " + status + " operation " + handle + ".");
        }
        if (outcome == null) {
            if (status == Status.ERROR) {
                throw new Failed("Failed to execute the statement.", error);
            }
            return new Page("NOT_READY", null, List.of(), token);
        }
        if (token == currentToken) {
            if (buffer.isEmpty()) {
                if (!drained) {
                    return new Page("NOT_READY", outcome, List.of(), token);
                }
                if (error != null) {
                    throw new Failed("Failed to fetch the results.", error);
                }
                return new Page("EOS", outcome, List.of(), null);
            }
            int n = Math.min(Math.max(1, maxRows), buffer.size());
            List<RowData> batch = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                batch.add(buffer.removeFirst());
            }
            previous = batch;
            currentToken++;
            notifyAll();
            return new Page("PAYLOAD", outcome, batch, currentToken);
        }
        if (token == currentToken - 1 && token >= 0) {
            return new Page("PAYLOAD", outcome, previous, currentToken);
        }
        throw new Gateway.BadRequest(
                currentToken == 0
                        ? "Expecting token to be 0, but found " + token + "."
                        : "Expecting token to be "
                                + currentToken
                                + " or "
                                + (currentToken - 1)
                                + ", but found "
                                + token
                                + ".");
    }

    private static String firstLine(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String s = root.toString();
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
