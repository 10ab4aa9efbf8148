package io.drey.testjobs;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;

/**
 * A CPU-bound streaming job for the autoscaler tests: a rate-limited generator feeds a keyed
 * operator "burn" that busy-spins for a fixed cost per record, so the busy time of the burn
 * vertex follows rate x cost (200 records/s x 4500 us is about 90% busy at parallelism 1,
 * about 45% per subtask at parallelism 2, as long as there are enough keys to spread).
 *
 * <p>The per-record cost is read from the file given with {@code --cost-file} (a single
 * number of microseconds), re-read at most once a second per subtask, so a test can raise and
 * lower the load of a running job by rewriting that file. A missing or unparsable file falls
 * back to {@code --cost-us}.
 *
 * <p>The burn operator keeps a keyed count, and every record is appended to the file given
 * with {@code --out} as {@code <key> <count> <sequence>}; across a rescale or a restore the
 * counts continue instead of starting again at 1.
 *
 * <p>Arguments: {@code --out <file>} (required), {@code --rate <records per second, in total>}
 * (default 200), {@code --keys <n>} (default 8), {@code --cost-file <file>} (optional),
 * {@code --cost-us <microseconds>} (default 0), {@code --checkpoint-interval <ms>} (default
 * 2000).
 */
public final class CpuBoundJob {
    private CpuBoundJob() {}

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        String out = args.get("out", null);
        if (out == null) {
            throw new IllegalArgumentException("missing --out <file>");
        }
        long keys = args.getLong("keys", 8);
        long rate = args.getLong("rate", 200);
        String costFile = args.get("cost-file", null);
        long costUs = args.getLong("cost-us", 0);

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.enableCheckpointing(args.getLong("checkpoint-interval", 2000));

        DataGeneratorSource<Long> source =
                new DataGeneratorSource<>(
                        index -> index, Long.MAX_VALUE, RateLimiterStrategy.perSecond(rate), Types.LONG);

        env.fromSource(source, WatermarkStrategy.noWatermarks(), "sequence")
                .uid("sequence")
                .keyBy(i -> i % keys)
                .process(new Burn(costFile, costUs))
                .uid("burn")
                .name("burn")
                .sinkTo(new AppendLineSink(out))
                .uid("out")
                .name("out");

        env.execute("drey-test-cpu-bound");
    }

    /** Spins for the current per-record cost, counts records per key and emits the count. */
    static final class Burn extends KeyedProcessFunction<Long, Long, String> {
        private static final long serialVersionUID = 1L;
        private static final long REREAD_NANOS = 1_000_000_000L;

        private final String costFile;
        private final long defaultCostUs;
        private transient ValueState<Long> count;
        private transient long costUs;
        private transient long lastRead;
        private transient boolean read;
        /** Written by the spin loop so the JIT cannot drop it. */
        private transient long spins;

        Burn(String costFile, long defaultCostUs) {
            this.costFile = costFile;
            this.defaultCostUs = defaultCostUs;
        }

        @Override
        public void open(OpenContext openContext) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            costUs = defaultCostUs;
            read = false;
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<String> collector)
                throws Exception {
            burn(currentCostUs());
            Long current = count.value();
            long next = (current == null ? 0 : current) + 1;
            count.update(next);
            collector.collect(ctx.getCurrentKey() + " " + next + " " + value);
        }

        /** The cost from the cost file, re-read at most once a second. */
        private long currentCostUs() {
            if (costFile == null) {
                return defaultCostUs;
            }
            long now = System.nanoTime();
            if (!read || now - lastRead >= REREAD_NANOS) {
                read = true;
                lastRead = now;
                costUs = readCost();
            }
            return costUs;
        }

        private long readCost() {
            try {
                String text =
                        new String(Files.readAllBytes(Paths.get(costFile)), StandardCharsets.UTF_8)
                                .trim();
                long v = Long.parseLong(text);
                return v < 0 ? defaultCostUs : v;
            } catch (IOException | NumberFormatException e) {
                return defaultCostUs;
            }
        }

        /** Busy-spins (real CPU, no sleep) for the given number of microseconds. */
        private void burn(long micros) {
            if (micros <= 0) {
                return;
            }
            long end = System.nanoTime() + micros * 1_000L;
            long n = spins;
            while (System.nanoTime() < end) {
                n++;
            }
            spins = n;
        }
    }
}
