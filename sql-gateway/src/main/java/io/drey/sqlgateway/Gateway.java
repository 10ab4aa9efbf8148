package io.drey.sqlgateway;

import java.util.ArrayList;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** The sessions of the service, the statement workers and the idle-session reaper. */
final class Gateway {

    /** An unknown session or operation: answered with 404. */
    static final class NotFound extends RuntimeException {
        private static final long serialVersionUID = 1L;

        NotFound(String message) {
            super(message);
        }
    }

    /** A request the client got wrong: answered with 400. */
    static final class BadRequest extends RuntimeException {
        private static final long serialVersionUID = 1L;

        BadRequest(String message) {
            super(message);
        }
    }

    private final Map<String, Session> sessions = new ConcurrentHashMap<>();
    private final long idleTimeoutMillis;
    private final int bufferRows;
    /** Runs statements; a statement blocks its thread while it compiles and submits. */
    final ExecutorService workers = Executors.newCachedThreadPool(daemonThreads("statement"));

    Gateway(long idleTimeoutMillis, int bufferRows) {
        this.idleTimeoutMillis = idleTimeoutMillis;
        this.bufferRows = bufferRows;
        if (idleTimeoutMillis > 0) {
            long period = Math.max(1000, Math.min(60_000, idleTimeoutMillis / 4));
            ScheduledExecutorService reaper =
                    Executors.newSingleThreadScheduledExecutor(daemonThreads("reaper"));
            reaper.scheduleAtFixedRate(this::closeIdle, period, period, TimeUnit.MILLISECONDS);
        }
    }

    int bufferRows() {
        return bufferRows;
    }

    Session open(String name, Map<String, String> properties) {
        String handle = UUID.randomUUID().toString();
        Session session = new Session(this, handle, name, properties);
        sessions.put(handle, session);
        Main.log("session " + handle + " opened" + (name == null ? "" : " (" + name + ")"));
        return session;
    }

    /** The session, marked as used now; NotFound when unknown. */
    Session session(String handle) {
        Session s = sessions.get(handle);
        if (s == null) {
            throw new NotFound("Session '" + handle + "' does not exist.");
        }
        s.touch();
        return s;
    }

    void close(String handle) {
        Session s = sessions.remove(handle);
        if (s == null) {
            throw new NotFound("Session '" + handle + "' does not exist.");
        }
        s.close();
        Main.log("session " + handle + " closed");
    }

    void closeAll() {
        for (String handle : new ArrayList<>(sessions.keySet())) {
            Session s = sessions.remove(handle);
            if (s != null) {
                s.close();
            }
        }
    }

    private void closeIdle() {
        long now = System.currentTimeMillis();
        for (Session s : new ArrayList<>(sessions.values())) {
            if (now - s.lastAccess() > idleTimeoutMillis && sessions.remove(s.handle, s)) {
                Main.log("session " + s.handle + " idle for too long; closing it");
                try {
                    s.close();
                } catch (RuntimeException e) {
                    Main.log("closing session " + s.handle + " failed: " + e);
                }
            }
        }
    }

    static ThreadFactory daemonThreads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
