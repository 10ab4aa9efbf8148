package io.drey.examples;

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
 * drey's first example: a streaming job that needs nothing but the Flink distribution and
 * runs until it is suspended. A rate-limited generator of order amounts feeds a running
 * total per product (keyed state, checkpointed), printed to the TaskManager's stdout (its
 * "Stdout" tab in the Flink Web UI). Suspending with a savepoint and starting again
 * continues the totals.
 *
 * <p>Built from source by scripts/run.sh (scripts/build-testjobs.sh --examples) into
 * target/examples/first-job.jar; examples/first-job.yaml runs it.
 */
public final class FirstJob {
    private FirstJob() {}

    private static final String[] PRODUCTS = {"apples", "bread", "coffee", "dates"};

    public static void main(String[] argv) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.enableCheckpointing(10_000);

        DataGeneratorSource<Long> orders =
                new DataGeneratorSource<>(
                        index -> index, Long.MAX_VALUE, RateLimiterStrategy.perSecond(2), Types.LONG);

        env.fromSource(orders, WatermarkStrategy.noWatermarks(), "orders")
                .uid("orders")
                .keyBy(i -> PRODUCTS[(int) (i % PRODUCTS.length)])
                .process(new RunningTotal())
                .uid("running-total")
                .name("running total per product")
                .print()
                .name("stdout");

        env.execute("drey-first-job");
    }

    /** Adds each order's amount (1 to 9) to the product's total in keyed state. */
    static final class RunningTotal extends KeyedProcessFunction<String, Long, String> {
        private static final long serialVersionUID = 1L;
        private transient ValueState<Long> total;

        @Override
        public void open(OpenContext openContext) {
            total = getRuntimeContext().getState(new ValueStateDescriptor<>("total", Types.LONG));
        }

        @Override
        public void processElement(Long order, Context ctx, Collector<String> out)
                throws Exception {
            long amount = order % 9 + 1;
            Long current = total.value();
            long next = (current == null ? 0 : current) + amount;
            total.update(next);
            out.collect(ctx.getCurrentKey() + " total " + next);
        }
    }
}
