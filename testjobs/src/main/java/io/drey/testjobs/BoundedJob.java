package io.drey.testjobs;

import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * A bounded job that finishes: it sums the numbers 1..{@code --count} (default 1000) and, when
 * {@code --out <file>} is given, appends {@code sum <value>} to that file once the sum is complete.
 */
public final class BoundedJob {
    private BoundedJob() {}

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        long count = args.getLong("count", 1000);
        String out = args.get("out", null);

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);

        var sums = env.fromSequence(1, count).keyBy(x -> 0).reduce(Long::sum).name("sum");
        if (out != null) {
            long total = count * (count + 1) / 2;
            sums.filter(s -> s == total).map(s -> "sum " + s).sinkTo(new AppendLineSink(out)).name("out");
        } else {
            sums.sinkTo(new org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink<>());
        }
        env.execute("drey-test-bounded-job");
    }
}
