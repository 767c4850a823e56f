// Embedded single-node OpenSearch 2.19.x for local development and tests.
//
// There is no usable distribution tarball here (and bin/opensearch refuses root), so this
// class subclasses org.opensearch.node.Node, whose protected constructor accepts plugin
// classes directly. A plain Node does not run the bootstrap checks (root, vm.max_map_count,...).
//
// Usage: java -cp 'lib/*:classes' Launcher <root-dir> [http-port]
//   <root-dir> holds home/ (path.home, config/), data/ and logs/; created if missing.
//   http-port: argument, else $OPENSEARCH_PORT, else 9200.
// Logging: <root-dir>/home/config/log4j2.properties if present (infra.sh copies one there).
// Stops cleanly on SIGTERM/SIGINT (shutdown hook closes the node).

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

public class Launcher {

    // 2.x class names of the modules we ship (the *ModulePlugin names are 3.x).
    private static final String[] PLUGINS = {
        "org.opensearch.transport.Netty4Plugin",
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
        "org.opensearch.painless.PainlessPlugin",
        "org.opensearch.index.mapper.MapperExtrasPlugin",
        "org.opensearch.index.reindex.ReindexPlugin",
    };

    static final class LocalNode extends Node {
        LocalNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            super(env, plugins, true);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: Launcher <root-dir> [http-port]");
            System.exit(2);
        }
        Path root = Paths.get(args[0]).toAbsolutePath();
        String port = args.length > 1 ? args[1]
            : System.getenv().getOrDefault("OPENSEARCH_PORT", "9200");
        Path home = root.resolve("home");
        Path config = home.resolve("config");
        // modules/ and plugins/ must exist (empty) for the PluginsService scan.
        for (Path p : List.of(config, home.resolve("modules"), home.resolve("plugins"),
                              root.resolve("data"), root.resolve("logs"))) {
            Files.createDirectories(p);
        }

        Settings settings = Settings.builder()
            .put("cluster.name", "algoitny-local")
            .put("node.name", "algoitny-local-node")
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", port)
            .put("path.home", home.toString())
            .put("path.data", root.resolve("data").toString())
            .put("path.logs", root.resolve("logs").toString())
            // disks here can be nearly full; never flip indices to read-only
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .build();

        Environment env = InternalSettingsPreparer.prepareEnvironment(
            settings, Map.of(), config, () -> "algoitny-local-node");

        LogConfigurator.registerErrorListener();
        if (Files.exists(config.resolve("log4j2.properties"))) {
            LogConfigurator.configure(env);
        } else {
            LogConfigurator.configureWithoutConfig(env.settings());
        }

        // Class.forName so that a wrong class name fails loudly at start.
        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        for (String name : PLUGINS) {
            plugins.add(Class.forName(name).asSubclass(Plugin.class));
        }

        Node node = new LocalNode(env, plugins);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(15, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "opensearch-shutdown"));

        node.start();
        // Logged under org.opensearch.node (INFO in log4j2.properties); System.err would be
        // re-routed by OpenSearch to a WARN-level "stderr" logger.
        org.apache.logging.log4j.LogManager.getLogger("org.opensearch.node.Launcher").info(
            "algoitny-local OpenSearch listening on http://127.0.0.1:{} (pid {})",
            port, ProcessHandle.current().pid());
        stopped.await(); // keep the JVM alive until a signal arrives
    }
}
