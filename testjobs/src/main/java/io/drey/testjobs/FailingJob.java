package io.drey.testjobs;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * A job that fails: after {@code --fail-after <n>} records (default 20, at about 10 records
 * per second) it throws {@code IllegalStateException("drey-test-failure after <n> records")}.
 * Its restart strategy is {@code none}, so the job ends FAILED and the exception is in the
 * job's exception history. With {@code --restart-attempts <n>} it is restarted up to n times,
 * a second apart, and fails the same way each time: a job in a restart loop.
 */
public final class FailingJob {
    private FailingJob() {}

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        long failAfter = args.getLong("fail-after", 20);

        long restartAttempts = args.getLong("restart-attempts", 0);

        Configuration conf = new Configuration();
        if (restartAttempts > 0) {
            conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
            conf.set(
                    RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS,
                    (int) Math.min(restartAttempts, Integer.MAX_VALUE));
            conf.set(
                    RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY,
                    java.time.Duration.ofSeconds(1));
        } else {
            conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(1);

        DataGeneratorSource<Long> source =
                new DataGeneratorSource<>(
                        index -> index, Long.MAX_VALUE, RateLimiterStrategy.perSecond(10), Types.LONG);

        env.fromSource(source, WatermarkStrategy.noWatermarks(), "sequence")
                .map(new FailAfter(failAfter))
                .name("fail-after")
                .sinkTo(new org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink<>());

        env.execute("drey-test-failing-job");
    }

    /** Passes records through and throws once it has seen the configured number of them. */
    static final class FailAfter extends RichMapFunction<Long, Long> {
        private static final long serialVersionUID = 1L;
        private final long failAfter;
        private long seen;

        FailAfter(long failAfter) {
            this.failAfter = failAfter;
        }

        @Override
        public Long map(Long value) {
            seen++;
            if (seen >= failAfter) {
                throw new IllegalStateException("drey-test-failure after " + failAfter + " records");
            }
            return value;
        }
    }
}
