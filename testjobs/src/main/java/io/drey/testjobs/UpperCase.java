package io.drey.testjobs;

import org.apache.flink.table.functions.ScalarFunction;

/** A user-defined scalar function for the UDF artifact tests: upper-cases a string. */
public final class UpperCase extends ScalarFunction {
    public String eval(String s) {
        return s == null ? null : s.toUpperCase();
    }
}
