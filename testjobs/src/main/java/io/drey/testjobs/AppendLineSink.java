package io.drey.testjobs;

import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A sink that appends each record as one line to a local file and flushes it at once, so a
 * test can watch a job's output from outside while the job runs. Every subtask appends to
 * the same file (lines are short and written with one write call each).
 */
public final class AppendLineSink implements Sink<String> {
    private static final long serialVersionUID = 1L;

    private final String path;

    public AppendLineSink(String path) {
        this.path = path;
    }

    @Override
    public SinkWriter<String> createWriter(WriterInitContext context) throws IOException {
        return new Writer(path);
    }

    private static final class Writer implements SinkWriter<String> {
        private final OutputStream out;

        Writer(String path) throws IOException {
            this.out = new FileOutputStream(path, true);
        }

        @Override
        public void write(String element, Context context) throws IOException {
            out.write((element + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        @Override
        public void flush(boolean endOfInput) throws IOException {
            out.flush();
        }

        @Override
        public void close() throws Exception {
            out.close();
        }
    }
}
