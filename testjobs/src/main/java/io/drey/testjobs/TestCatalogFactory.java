package io.drey.testjobs;

import java.util.Set;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.table.catalog.Catalog;
import org.apache.flink.table.catalog.GenericInMemoryCatalog;
import org.apache.flink.table.factories.CatalogFactory;
import org.apache.flink.table.factories.FactoryUtil;

/**
 * A catalog connector packaged in a jar, for VVP's {@code catalog-connectors:analyze-jars}
 * (crates/drey/tests/vvp_platform.rs): type {@code drey-test}, one required and one optional
 * option, an in-memory catalog underneath.
 */
public final class TestCatalogFactory implements CatalogFactory {
    static final ConfigOption<String> OWNER =
            ConfigOptions.key("owner")
                    .stringType()
                    .noDefaultValue()
                    .withDescription("Who the catalog belongs to.");

    static final ConfigOption<String> DEFAULT_DATABASE =
            ConfigOptions.key("default-database")
                    .stringType()
                    .defaultValue("main")
                    .withDescription("The database statements start in.");

    @Override
    public String factoryIdentifier() {
        return "drey-test";
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Set.of(OWNER);
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return Set.of(DEFAULT_DATABASE);
    }

    @Override
    public Catalog createCatalog(Context context) {
        FactoryUtil.CatalogFactoryHelper helper = FactoryUtil.createCatalogFactoryHelper(this, context);
        helper.validate();
        return new GenericInMemoryCatalog(
                context.getName(), helper.getOptions().get(DEFAULT_DATABASE));
    }
}
