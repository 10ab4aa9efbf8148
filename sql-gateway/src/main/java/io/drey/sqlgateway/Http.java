package io.drey.sqlgateway;

import org.apache.flink.runtime.util.EnvironmentInformation;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonProcessingException;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The REST endpoints of Flink's SQL gateway, under {@code /v1} to {@code /v4} (or no prefix).
 *
 * <p>Differences from Flink's own gateway: an unknown session or operation is answered with
 * 404 (Flink answers 500 "Session '...' does not exist"); a malformed body or token with
 * 400; cancelling an operation that already ended answers its status instead of an error;
 * only the endpoints drey needs exist (no completion, scripts or materialized tables), plus
 * drey's own {@code POST /catalog-factories} ({@link CatalogFactories}).
 */
final class Http implements HttpHandler {

    private static final Pattern VERSIONED = Pattern.compile("^/(v[1-4])(/.*)$");

    private final Gateway gateway;

    /** Answered with 405. */
    private static final class MethodNotAllowed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        MethodNotAllowed(String message) {
            super(message);
        }
    }

    Http(Gateway gateway) {
        this.gateway = gateway;
    }

    @Override
    public void handle(HttpExchange ex) throws IOException {
        try {
            route(ex);
        } catch (Gateway.NotFound e) {
            send(ex, 404, Json.errors(e.getMessage()));
        } catch (MethodNotAllowed e) {
            send(ex, 405, Json.errors(e.getMessage()));
        } catch (Gateway.BadRequest | JsonProcessingException | NumberFormatException e) {
            send(ex, 400, Json.errors(e.getMessage()));
        } catch (Throwable t) {
            send(ex, 500, Json.internalError(t));
        } finally {
            ex.close();
        }
    }

    private void route(HttpExchange ex) throws Exception {
        String method = ex.getRequestMethod();
        String path = ex.getRequestURI().getPath();
        String prefix = "/v1";
        Matcher m = VERSIONED.matcher(path);
        if (m.matches()) {
            prefix = "/" + m.group(1);
            path = m.group(2);
        }
        String[] seg = path.replaceAll("^/+|/+$", "").split("/");
        Map<String, String> query = query(ex.getRequestURI().getRawQuery());

        if (seg.length == 1 && seg[0].equals("api_versions")) {
            expect(method, "GET");
            ObjectNode body = Json.MAPPER.createObjectNode();
            body.putArray("versions").add("V1").add("V2").add("V3").add("V4");
            send(ex, 200, body);
            return;
        }
        if (seg.length == 1 && seg[0].equals("info")) {
            expect(method, "GET");
            ObjectNode body = Json.MAPPER.createObjectNode();
            body.put("productName", "Apache Flink");
            body.put("version", EnvironmentInformation.getVersion());
            send(ex, 200, body);
            return;
        }
        if (seg.length == 1 && seg[0].equals("catalog-factories")) {
            expect(method, "POST");
            JsonNode body = body(ex);
            java.util.List<String> jars = new java.util.ArrayList<>();
            JsonNode given = body.get("jars");
            if (given == null || !given.isArray()) {
                throw new Gateway.BadRequest("jars must be an array of paths");
            }
            given.forEach(j -> jars.add(j.asText()));
            send(ex, 200, CatalogFactories.describe(jars));
            return;
        }
        if (seg.length == 0 || !seg[0].equals("sessions")) {
            throw new Gateway.NotFound("Not found: " + ex.getRequestURI().getPath());
        }
        if (seg.length == 1) {
            expect(method, "POST");
            JsonNode body = body(ex);
            Session s = gateway.open(text(body, "sessionName"), strings(body.get("properties")));
            send(ex, 200, Json.MAPPER.createObjectNode().put("sessionHandle", s.handle));
            return;
        }
        String handle = seg[1];
        if (seg.length == 2) {
            if (method.equals("DELETE")) {
                gateway.close(handle);
                send(ex, 200, Json.MAPPER.createObjectNode().put("status", "CLOSED"));
                return;
            }
            expect(method, "GET");
            ObjectNode body = Json.MAPPER.createObjectNode();
            ObjectNode props = body.putObject("properties");
            gateway.session(handle).properties().forEach(props::put);
            send(ex, 200, body);
            return;
        }
        Session session = gateway.session(handle);
        if (seg.length == 3) {
            expect(method, "POST");
            switch (seg[2]) {
                case "heartbeat":
                    send(ex, 200, Json.MAPPER.createObjectNode());
                    return;
                case "configure-session":
                    session.configure(statement(body(ex)));
                    send(ex, 200, Json.MAPPER.createObjectNode());
                    return;
                case "statements":
                    JsonNode body = body(ex);
                    SqlOperation op =
                            session.submit(statement(body), strings(body.get("executionConfig")));
                    send(ex, 200, Json.MAPPER.createObjectNode().put("operationHandle", op.handle));
                    return;
                default:
                    throw new Gateway.NotFound("Not found: " + ex.getRequestURI().getPath());
            }
        }
        if (seg[2].equals("operations") && seg.length == 5) {
            String op = seg[3];
            String status;
            switch (seg[4]) {
                case "status":
                    expect(method, "GET");
                    status = session.operation(op).status();
                    break;
                case "cancel":
                    expect(method, "POST");
                    status = session.operation(op).cancel();
                    break;
                case "close":
                    expect(method, "DELETE");
                    status = session.closeOperation(op);
                    break;
                default:
                    throw new Gateway.NotFound("Not found: " + ex.getRequestURI().getPath());
            }
            send(ex, 200, Json.MAPPER.createObjectNode().put("status", status));
            return;
        }
        if (seg[2].equals("operations") && seg.length == 6 && seg[4].equals("result")) {
            expect(method, "GET");
            long token = Long.parseLong(seg[5]);
            String rowFormat = query.getOrDefault("rowFormat", "JSON").toUpperCase();
            if (!rowFormat.equals("JSON") && !rowFormat.equals("PLAIN_TEXT")) {
                throw new Gateway.BadRequest("Unknown rowFormat " + rowFormat + ".");
            }
            int max = Integer.parseInt(query.getOrDefault("maxFetchSize", "1000"));
            SqlOperation.Page page = session.operation(seg[3]).fetch(token, max);
            send(ex, 200, Json.page(page, prefix, handle, seg[3], rowFormat));
            return;
        }
        throw new Gateway.NotFound("Not found: " + ex.getRequestURI().getPath());
    }

    private static void expect(String method, String wanted) {
        if (!method.equals(wanted)) {
            throw new MethodNotAllowed(
                    "Method " + method + " is not allowed here; use " + wanted + ".");
        }
    }

    private static JsonNode body(HttpExchange ex) throws IOException {
        byte[] bytes = ex.getRequestBody().readAllBytes();
        if (bytes.length == 0 || new String(bytes, StandardCharsets.UTF_8).isBlank()) {
            return Json.MAPPER.createObjectNode();
        }
        JsonNode node = Json.MAPPER.readTree(bytes);
        if (!node.isObject()) {
            throw new Gateway.BadRequest("The request body must be a JSON object.");
        }
        return node;
    }

    private static String text(JsonNode body, String field) {
        JsonNode v = body.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }

    private static String statement(JsonNode body) {
        String statement = text(body, "statement");
        if (statement == null || statement.isBlank()) {
            throw new Gateway.BadRequest("The field 'statement' is required.");
        }
        return statement;
    }

    private static Map<String, String> strings(JsonNode object) {
        Map<String, String> out = new LinkedHashMap<>();
        if (object == null || object.isNull()) {
            return out;
        }
        if (!object.isObject()) {
            throw new Gateway.BadRequest("Properties must be a JSON object of strings.");
        }
        Iterator<Map.Entry<String, JsonNode>> fields = object.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> e = fields.next();
            out.put(e.getKey(), e.getValue().asText());
        }
        return out;
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> out = new HashMap<>();
        if (raw == null) {
            return out;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0) {
                out.put(
                        URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                        URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    private static void send(HttpExchange ex, int status, JsonNode body) throws IOException {
        byte[] bytes = Json.MAPPER.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json; charset=UTF-8");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }
}
