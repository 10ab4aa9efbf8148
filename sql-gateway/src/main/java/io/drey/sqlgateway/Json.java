package io.drey.sqlgateway;

import org.apache.flink.formats.common.TimestampFormat;
import org.apache.flink.formats.json.JsonFormatOptions;
import org.apache.flink.formats.json.RowDataToJsonConverters;
import org.apache.flink.table.catalog.Column;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.ArrayType;
import org.apache.flink.table.types.logical.BinaryType;
import org.apache.flink.table.types.logical.CharType;
import org.apache.flink.table.types.logical.DayTimeIntervalType;
import org.apache.flink.table.types.logical.DecimalType;
import org.apache.flink.table.types.logical.LocalZonedTimestampType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.MapType;
import org.apache.flink.table.types.logical.MultisetType;
import org.apache.flink.table.types.logical.RawType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.TimeType;
import org.apache.flink.table.types.logical.TimestampType;
import org.apache.flink.table.types.logical.VarBinaryType;
import org.apache.flink.table.types.logical.VarCharType;
import org.apache.flink.table.types.logical.YearMonthIntervalType;
import org.apache.flink.table.types.logical.ZonedTimestampType;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ArrayNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;

/**
 * The JSON shapes of Flink's SQL gateway: column types as its LogicalTypeJsonSerializer
 * writes them, rows as its ResultInfoSerializer does (flink-json's converters with ISO-8601
 * timestamps: numbers as JSON numbers, DECIMAL as a JSON number, DATE/TIME/TIMESTAMP as ISO
 * strings, BYTES as base64, ARRAY as an array, MAP/MULTISET and ROW as objects).
 */
final class Json {

    static final ObjectMapper MAPPER = new ObjectMapper();

    private static final RowDataToJsonConverters CONVERTERS =
            new RowDataToJsonConverters(
                    TimestampFormat.ISO_8601, JsonFormatOptions.MapNullKeyMode.LITERAL, "null", false);

    private Json() {}

    /** FetchResultsResponseBody for a page; `prefix` is the request's version, e.g. `/v3`. */
    static ObjectNode page(
            SqlOperation.Page page, String prefix, String session, String op, String rowFormat) {
        ObjectNode body = MAPPER.createObjectNode();
        body.put("resultType", page.resultType);
        if (page.outcome != null && !page.resultType.equals("NOT_READY")) {
            Session.Outcome o = page.outcome;
            body.put("isQueryResult", o.isQuery);
            if (o.job != null) {
                body.put("jobID", o.job.getJobID().toHexString());
            }
            body.put("resultKind", o.resultKind);
            ObjectNode results = body.putObject("results");
            ArrayNode columns = results.putArray("columns");
            List<Column> cols = o.schema.getColumns();
            for (Column c : cols) {
                ObjectNode col = columns.addObject();
                col.put("name", c.getName());
                col.set("logicalType", logicalType(c.getDataType().getLogicalType()));
                col.put("comment", c.getComment().orElse(null));
            }
            results.put("rowFormat", rowFormat);
            ArrayNode data = results.putArray("data");
            int n = cols.size();
            RowData.FieldGetter[] getters = new RowData.FieldGetter[n];
            RowDataToJsonConverters.RowDataToJsonConverter[] converters =
                    new RowDataToJsonConverters.RowDataToJsonConverter[n];
            for (int i = 0; i < n && !page.rows.isEmpty(); i++) {
                LogicalType type = cols.get(i).getDataType().getLogicalType();
                getters[i] = RowData.createFieldGetter(type, i);
                converters[i] = rowFormat.equals("JSON") ? converter(type) : null;
            }
            for (RowData row : page.rows) {
                ObjectNode r = data.addObject();
                r.put("kind", row.getRowKind().name());
                ArrayNode fields = r.putArray("fields");
                for (int i = 0; i < n; i++) {
                    fields.add(field(converters[i], getters[i].getFieldOrNull(row)));
                }
            }
        }
        if (page.nextToken != null) {
            body.put(
                    "nextResultUri",
                    prefix
                            + "/sessions/"
                            + session
                            + "/operations/"
                            + op
                            + "/result/"
                            + page.nextToken
                            + "?rowFormat="
                            + rowFormat);
        }
        return body;
    }

    /** flink-json's converter for the type; null for types it cannot write (e.g. RAW). */
    private static RowDataToJsonConverters.RowDataToJsonConverter converter(LogicalType type) {
        try {
            return CONVERTERS.createConverter(type);
        } catch (UnsupportedOperationException e) {
            return null;
        }
    }

    /** A field as JSON, or as its string form (PLAIN_TEXT, or no converter). */
    private static JsonNode field(
            RowDataToJsonConverters.RowDataToJsonConverter converter, Object value) {
        if (value == null) {
            return MAPPER.getNodeFactory().nullNode();
        }
        if (converter != null) {
            return converter.convert(MAPPER, null, value);
        }
        return MAPPER.getNodeFactory().textNode(value.toString());
    }

    /** A logical type as Flink's gateway serializes it. */
    static ObjectNode logicalType(LogicalType t) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("type", t.getTypeRoot().name());
        if (t.getTypeRoot().name().equals("NULL")) {
            return n;
        }
        n.put("nullable", t.isNullable());
        switch (t.getTypeRoot()) {
            case CHAR:
                n.put("length", ((CharType) t).getLength());
                break;
            case VARCHAR:
                n.put("length", ((VarCharType) t).getLength());
                break;
            case BINARY:
                n.put("length", ((BinaryType) t).getLength());
                break;
            case VARBINARY:
                n.put("length", ((VarBinaryType) t).getLength());
                break;
            case DECIMAL:
                n.put("precision", ((DecimalType) t).getPrecision());
                n.put("scale", ((DecimalType) t).getScale());
                break;
            case TIME_WITHOUT_TIME_ZONE:
                n.put("precision", ((TimeType) t).getPrecision());
                break;
            case TIMESTAMP_WITHOUT_TIME_ZONE:
                n.put("precision", ((TimestampType) t).getPrecision());
                break;
            case TIMESTAMP_WITH_TIME_ZONE:
                n.put("precision", ((ZonedTimestampType) t).getPrecision());
                break;
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                n.put("precision", ((LocalZonedTimestampType) t).getPrecision());
                break;
            case ARRAY:
                n.set("elementType", logicalType(((ArrayType) t).getElementType()));
                break;
            case MULTISET:
                n.set("elementType", logicalType(((MultisetType) t).getElementType()));
                break;
            case MAP:
                n.set("keyType", logicalType(((MapType) t).getKeyType()));
                n.set("valueType", logicalType(((MapType) t).getValueType()));
                break;
            case ROW:
                ArrayNode fields = n.putArray("fields");
                for (RowType.RowField f : ((RowType) t).getFields()) {
                    ObjectNode field = fields.addObject();
                    field.put("name", f.getName());
                    field.set("fieldType", logicalType(f.getType()));
                    f.getDescription().ifPresent(d -> field.put("description", d));
                }
                break;
            case INTERVAL_YEAR_MONTH:
                n.put("precision", ((YearMonthIntervalType) t).getYearPrecision());
                n.put("resolution", ((YearMonthIntervalType) t).getResolution().toString());
                break;
            case INTERVAL_DAY_TIME:
                n.put("precision", ((DayTimeIntervalType) t).getDayPrecision());
                n.put("fractionalPrecision", ((DayTimeIntervalType) t).getFractionalPrecision());
                n.put("resolution", ((DayTimeIntervalType) t).getResolution().toString());
                break;
            case RAW:
                if (t instanceof RawType) {
                    n.put("class", ((RawType<?>) t).getOriginatingClass().getName());
                    n.put("serializer", ((RawType<?>) t).getSerializerString());
                }
                break;
            default:
                break;
        }
        return n;
    }

    /** `{"errors": [message]}`. */
    static ObjectNode errors(String message) {
        ObjectNode body = MAPPER.createObjectNode();
        body.putArray("errors").add(message);
        return body;
    }

    /** Flink's 500 body: a generic line, then the whole exception with its causes. */
    static ObjectNode internalError(Throwable t) {
        StringWriter trace = new StringWriter();
        t.printStackTrace(new PrintWriter(trace));
        ObjectNode body = MAPPER.createObjectNode();
        body.putArray("errors")
                .add("Internal server error.")
                .add(
                        "<Exception on server side:\n"
                                + trace
                                + "\nEnd of exception on server side>");
        return body;
    }
}
