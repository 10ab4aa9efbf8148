package io.drey.sqlgateway;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.description.HtmlFormatter;
import org.apache.flink.table.factories.CatalogFactory;
import org.apache.flink.table.factories.Factory;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ArrayNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code POST /catalog-factories {"jars": [path, ...]}}: the catalog factories the jars bring
 * (those Flink's own classpath does not have), each with its type and options, for VVP's
 * {@code catalog-connectors:analyze-jars}. The jars are loaded in a class loader of their own,
 * closed afterwards; drey names only jars the environment owns.
 */
final class CatalogFactories {
    private CatalogFactories() {}

    static ObjectNode describe(List<String> jars) throws Exception {
        URL[] urls = new URL[jars.size()];
        for (int i = 0; i < urls.length; i++) {
            Path jar = Path.of(jars.get(i));
            if (!Files.isRegularFile(jar)) {
                throw new Gateway.BadRequest("no such jar: " + jar);
            }
            urls[i] = jar.toUri().toURL();
        }
        ClassLoader parent = CatalogFactories.class.getClassLoader();
        Set<String> builtIn = new HashSet<>();
        for (Iterator<Factory> it = ServiceLoader.load(Factory.class, parent).iterator();
                hasNext(it); ) {
            try {
                builtIn.add(it.next().getClass().getName());
            } catch (ServiceConfigurationError e) {
                // A factory the distribution cannot load is none of the jars'.
            }
        }
        // By type, so the answer does not depend on the order of the service files.
        TreeMap<String, ObjectNode> found = new TreeMap<>();
        try (URLClassLoader loader = new URLClassLoader(urls, parent)) {
            for (Iterator<Factory> it = ServiceLoader.load(Factory.class, loader).iterator();
                    hasNext(it); ) {
                Factory factory;
                try {
                    factory = it.next();
                } catch (ServiceConfigurationError e) {
                    continue;
                }
                if (!(factory instanceof CatalogFactory)
                        || builtIn.contains(factory.getClass().getName())) {
                    continue;
                }
                ObjectNode node = Json.MAPPER.createObjectNode();
                node.put("type", factory.factoryIdentifier());
                node.put("className", factory.getClass().getName());
                options(node.putArray("required"), factory.requiredOptions());
                options(node.putArray("optional"), factory.optionalOptions());
                found.putIfAbsent(factory.factoryIdentifier(), node);
            }
        }
        ObjectNode out = Json.MAPPER.createObjectNode();
        ArrayNode list = out.putArray("catalogFactories");
        found.values().forEach(list::add);
        return out;
    }

    /** An iterator's next step, skipping what a broken service file makes it throw. */
    private static boolean hasNext(Iterator<Factory> it) {
        while (true) {
            try {
                return it.hasNext();
            } catch (ServiceConfigurationError e) {
                // try the next entry
            }
        }
    }

    private static void options(ArrayNode into, Set<ConfigOption<?>> options) {
        TreeMap<String, ObjectNode> sorted = new TreeMap<>();
        for (ConfigOption<?> option : options) {
            ObjectNode node = Json.MAPPER.createObjectNode();
            node.put("key", option.key());
            if (option.hasDefaultValue()) {
                node.put("defaultValue", String.valueOf(option.defaultValue()));
            }
            node.put("description", new HtmlFormatter().format(option.description()));
            sorted.put(option.key(), node);
        }
        sorted.values().forEach(into::add);
    }
}
