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

/**
 * A stateful streaming job that runs until it is stopped: a rate-limited generator (its
 * position is checkpointed) feeds a keyed counter over a few keys, and every update is
 * appended to the file given with {@code --out} as {@code <key> <count> <sequence>}.
 *
 * <p>After a restore from a savepoint the counts continue from the saved values instead of
 * starting again at 1, which a test can read from the output file.
 *
 * <p>Arguments: {@code --out <file>} (required), {@code --keys <n>} (default 3),
 * {@code --rate <records per second>} (default 10), {@code --checkpoint-interval <ms>}
 * (default 2000).
 */
public final class StatefulCounter {
    private StatefulCounter() {}

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        String out = args.get("out", null);
        if (out == null) {
            throw new IllegalArgumentException("missing --out <file>");
        }
        long keys = args.getLong("keys", 3);
        long rate = args.getLong("rate", 10);

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.enableCheckpointing(args.getLong("checkpoint-interval", 2000));

        DataGeneratorSource<Long> source =
                new DataGeneratorSource<>(
                        index -> index, Long.MAX_VALUE, RateLimiterStrategy.perSecond(rate), Types.LONG);

        env.fromSource(source, WatermarkStrategy.noWatermarks(), "sequence")
                .uid("sequence")
                .keyBy(i -> "k" + (i % keys))
                .process(new Counter())
                .uid("counter")
                .name("counter")
                .sinkTo(new AppendLineSink(out))
                .uid("out")
                .name("out");

        env.execute("drey-test-stateful-counter");
    }

    /** Counts records per key in keyed state and emits the running count. */
    static final class Counter extends KeyedProcessFunction<String, Long, String> {
        private static final long serialVersionUID = 1L;
        private transient ValueState<Long> count;

        @Override
        public void open(OpenContext openContext) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<String> collector)
                throws Exception {
            Long current = count.value();
            long next = (current == null ? 0 : current) + 1;
            count.update(next);
            collector.collect(ctx.getCurrentKey() + " " + next + " " + value);
        }
    }
}
