//! Server settings. Each is defined once, here, with its flag, its `DREY_*`
//! environment variable, its default and its description; a settings file
//! (`--config`, YAML, keys are the flag names) supplies defaults beneath the
//! environment. Precedence: flag > environment > settings file > default.

use anyhow::{bail, Context};
use clap::{Args, CommandFactory};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Settings of `drey server`.
#[derive(Args, Debug, Clone)]
pub struct ServerSettings {
    /// Settings file (YAML). Keys are the long flag names, e.g. `listen: 127.0.0.1:9090`.
    #[arg(long, env = "DREY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address and port to serve HTTP on; port 0 picks a free port. A
    /// non-loopback address (such as 0.0.0.0) needs `--auth token`, or
    /// `--insecure-allow-anonymous-remote`.
    #[arg(long, env = "DREY_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// Serve a non-loopback --listen address with `--auth none`: everyone
    /// who can reach the port acts as a server administrator and can run
    /// any code on this host. Without this flag drey refuses to start so.
    #[arg(long, env = "DREY_INSECURE_ALLOW_ANONYMOUS_REMOTE",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub insecure_allow_anonymous_remote: bool,

    /// The base URL clients reach drey at (e.g. https://drey.example.com
    /// behind a TLS proxy), used in the URLs drey hands out such as
    /// pre-signed Flink Web UI URLs [default: http:// and the request's
    /// Host header].
    #[arg(long, env = "DREY_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<PublicUrl>,

    /// Directory for the database, keys and Flink cluster state
    /// [default: $XDG_DATA_HOME/drey/data, else ~/.local/share/drey/data].
    #[arg(long, env = "DREY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Directory for what replicas on several hosts must share: jobs'
    /// savepoints and retained checkpoints, and uploaded artifacts. Give
    /// every replica the same shared mount (NFS, a cluster file system)
    /// [default: the data dir].
    #[arg(long, env = "DREY_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Largest request body accepted, in bytes; larger bodies get 413.
    #[arg(long, env = "DREY_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// A PostgreSQL database to keep drey's state in, for several replicas
    /// sharing one database: postgres://USER:PASS@HOST:PORT/DB [default:
    /// SQLite in <data-dir>/drey.db]. Replicas need the same --secret-key.
    #[arg(
        long,
        env = "DREY_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<DatabaseUrl>,

    /// Base64 of a 32-byte key that encrypts secrets at rest. Without it drey
    /// creates `<data-dir>/secret.key` (mode 0600) on first start.
    #[arg(long, env = "DREY_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Log format.
    #[arg(long, env = "DREY_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `drey=debug,info`.
    #[arg(long, env = "DREY_LOG", default_value = "info")]
    pub log: String,

    /// The Flink 2.3 distribution for local clusters [default: $FLINK_HOME,
    /// else the one scripts/install-flink.sh installs under the data home].
    #[arg(long, value_name = "DIR")]
    pub flink_home: Option<PathBuf>,

    /// A directory `local://` and `file://` jars may come from; repeat for
    /// several [default: <data-dir>/jars].
    #[arg(
        long = "jar-dir",
        env = "DREY_JAR_DIRS",
        value_delimiter = ',',
        value_name = "DIR"
    )]
    pub jar_dirs: Vec<PathBuf>,

    /// A Flink SQL Gateway to run statements on, e.g. http://127.0.0.1:8083
    /// [default: drey starts its own from --sql-gateway-jar].
    #[arg(long, env = "DREY_SQL_GATEWAY", value_name = "URL")]
    pub sql_gateway: Option<String>,

    /// drey's SQL Gateway service jar [default: $DREY_SQL_GATEWAY_JAR, else
    /// the one scripts/build-sql-gateway.sh installs under the data home].
    #[arg(long, value_name = "FILE")]
    pub sql_gateway_jar: Option<PathBuf>,

    /// Seconds an environment's SQL gateway (drey's own) may go unused before
    /// drey stops it; the next statement of the environment starts it again.
    /// Longer than the gateway's own session idle timeout (30 min), so no
    /// session a statement still uses is lost.
    #[arg(
        long,
        env = "DREY_SQL_GATEWAY_IDLE_SECONDS",
        default_value_t = 2100,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub sql_gateway_idle_seconds: u64,

    /// Authentication: `none` (everyone acts in the default organization, as
    /// CMF out of the box) or `token` (every request but /healthz and /readyz
    /// needs `Authorization: Bearer <token>`; the first start writes a root
    /// key to <data-dir>/root.key, mode 0600).
    #[arg(long, env = "DREY_AUTH", default_value = "none", value_parser = ["none", "token"])]
    pub auth: String,

    /// Run the reconciler that drives Flink (`off` serves the API only, e.g.
    /// for a read replica or API tests).
    #[arg(long, env = "DREY_RECONCILER", default_value = "on", value_parser = ["on", "off"])]
    pub reconciler: String,

    /// Seconds between reconcile passes over all applications (writes wake
    /// the reconciler at once).
    #[arg(long, env = "DREY_RECONCILE_INTERVAL_SECONDS", default_value_t = 2)]
    pub reconcile_interval_seconds: u64,

    /// Seconds a Flink cluster may take to start.
    #[arg(
        long,
        env = "DREY_CLUSTER_START_TIMEOUT_SECONDS",
        default_value_t = 180
    )]
    pub cluster_start_timeout_seconds: u64,

    /// How the Flink clusters drey starts are isolated from drey and from
    /// each other: `sandbox` (each process in a bubblewrap sandbox that sees
    /// only its own cluster's directories; when bwrap cannot run here, no
    /// cluster starts) or `none` (jobs run as drey's user and can read drey's
    /// keys and database: only for a machine whose every user is trusted;
    /// drey warns at every start).
    #[arg(
        long,
        env = "DREY_CLUSTER_ISOLATION",
        default_value = "sandbox",
        value_name = "MODE"
    )]
    pub cluster_isolation: drey_runtime::Isolation,

    /// The network of a sandboxed Flink cluster: `namespace` (a network namespace per
    /// cluster, connected outwards by Debian's pasta; a job cannot bind a port the host
    /// serves nor reach the host's loopback, and only the cluster's REST and metrics ports
    /// are forwarded, on the cluster REST address) or `host` (the host's network).
    #[arg(
        long,
        env = "DREY_CLUSTER_NETWORK",
        default_value = "namespace",
        value_name = "MODE"
    )]
    pub cluster_network: drey_runtime::ClusterNetwork,

    /// A directory every Flink cluster drey starts may read and write besides
    /// its own, e.g. a volume jobs write their output to; repeat for several.
    /// All tenants share it: nothing in it is isolated. drey's data dir stays
    /// hidden from the clusters even when it lies inside one.
    #[arg(
        long = "cluster-shared-dir",
        env = "DREY_CLUSTER_SHARED_DIRS",
        value_delimiter = ',',
        value_name = "DIR"
    )]
    pub cluster_shared_dirs: Vec<PathBuf>,

    /// MiB of memory (process sizes) the Flink clusters drey starts may take
    /// in all [default: 80 % of the machine's memory]; a cluster that does not
    /// fit, or does not fit in the memory available now, waits.
    #[arg(long, env = "DREY_CLUSTER_MEMORY_BUDGET_MB", value_parser = clap::value_parser!(u64).range(256..))]
    pub cluster_memory_budget_mb: Option<u64>,

    /// Seconds a JobManager whose processes live may go without answering
    /// before drey treats it as hung and recovers its application per
    /// upgradeMode; until then nothing is torn down or redeployed.
    #[arg(
        long,
        env = "DREY_JOBMANAGER_HUNG_AFTER_SECONDS",
        default_value_t = 300
    )]
    pub jobmanager_hung_after_seconds: u64,

    /// Seconds the reconciler lease lasts. Replicas on one PostgreSQL
    /// database run the reconcilers one at a time, under a lease renewed
    /// every third of this; after a leader dies, another takes over within
    /// about 1.2 times this.
    #[arg(long, env = "DREY_LEADER_LEASE_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(2..=600))]
    pub leader_lease_seconds: u64,

    /// This replica's name in the reconciler election (default: host name,
    /// process id and a random suffix, unique per start).
    #[arg(long, env = "DREY_REPLICA_ID", value_name = "ID")]
    pub replica_id: Option<String>,

    /// This host's identity in the records of the Flink clusters drey starts
    /// (default: the host name). Replicas with the same host id take over
    /// each other's clusters through their processes; a replica on another
    /// host drives them over their REST API only and never starts or stops
    /// processes of a host it is not. Give each host (or container) its own.
    #[arg(long, env = "DREY_HOST_ID", value_name = "ID")]
    pub host_id: Option<String>,

    /// The IP address the REST API of every Flink cluster drey starts binds
    /// and advertises (its certificate names it): an address of this host
    /// that replicas on other hosts reach. Only drey's client certificate is
    /// let in (mutual TLS).
    #[arg(long, env = "DREY_CLUSTER_REST_ADDRESS", value_name = "ADDR",
          default_value = drey_runtime::LOOPBACK, value_parser = parse_rest_address)]
    pub cluster_rest_address: std::net::IpAddr,

    /// Completed savepoints kept per application, unless its (or its
    /// environment's default) `flinkConfiguration` sets
    /// `kubernetes.operator.savepoint.history.max.count`; the newest and any
    /// the application may restore from are always kept.
    #[arg(long, env = "DREY_SAVEPOINT_HISTORY_MAX_COUNT", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub savepoint_history_max_count: u32,

    /// Age beyond which completed savepoints are trimmed, in Flink's duration
    /// syntax (`24h`, `30 min`, `1d`), unless the application sets
    /// `kubernetes.operator.savepoint.history.max.age`.
    #[arg(long, env = "DREY_SAVEPOINT_HISTORY_MAX_AGE", default_value = "24h",
          value_parser = parse_duration)]
    pub savepoint_history_max_age: std::time::Duration,

    /// Largest artifact (jar or zip) one upload may bring, in bytes (CMF
    /// artifacts, VVP artifacts); a larger upload gets 413 naming the limit.
    #[arg(long, env = "DREY_MAX_ARTIFACT_BYTES", default_value_t = drey_control::artifacts::MAX_ARTIFACT_BYTES)]
    pub max_artifact_bytes: u64,

    /// Total bytes of jars downloaded from http(s) jarURIs kept in
    /// <data-dir>/jars/downloads/; the least recently used go first.
    #[arg(long, env = "DREY_DOWNLOAD_CACHE_MAX_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub download_cache_max_bytes: u64,

    /// Largest jar one http(s) jarURI download may bring; a larger body is
    /// refused and its partial file removed (never more than
    /// --download-cache-max-bytes either).
    #[arg(long, env = "DREY_DOWNLOAD_MAX_BYTES", default_value_t = 512 * 1024 * 1024)]
    pub download_max_bytes: u64,

    /// Addresses (CIDR, or one address) that http(s) jar downloads may reach
    /// although they are loopback, link-local, private, shared, multicast or
    /// otherwise refused by the outbound policy; repeatable.
    #[arg(
        long,
        env = "DREY_OUTBOUND_ALLOW",
        value_delimiter = ',',
        value_name = "CIDR",
        value_parser = parse_net
    )]
    pub outbound_allow: Vec<ipnet::IpNet>,

    /// Where alerts are POSTed as one JSON object each (docs/observability.md);
    /// repeatable. Receiver URLs may hold credentials: they are never stored,
    /// logged or shown.
    #[arg(
        long,
        env = "DREY_ALERT_WEBHOOKS",
        value_delimiter = ',',
        value_name = "URL",
        hide_env_values = true
    )]
    pub alert_webhook: Vec<String>,

    /// The key webhook bodies are signed with (HMAC-SHA256, in the
    /// `X-Drey-Signature: sha256=<hex>` header); unsigned without it.
    #[arg(long, env = "DREY_ALERT_WEBHOOK_SECRET", hide_env_values = true)]
    pub alert_webhook_secret: Option<String>,

    /// Slack-compatible incoming webhooks alerts are posted to; repeatable.
    #[arg(
        long,
        env = "DREY_ALERT_SLACK_WEBHOOKS",
        value_delimiter = ',',
        value_name = "URL",
        hide_env_values = true
    )]
    pub alert_slack_webhook: Vec<String>,

    /// Prometheus Alertmanagers (base URL; `/api/v2/alerts` is added)
    /// alerts are posted to; repeatable.
    #[arg(
        long,
        env = "DREY_ALERT_ALERTMANAGERS",
        value_delimiter = ',',
        value_name = "URL",
        hide_env_values = true
    )]
    pub alert_alertmanager: Vec<String>,

    /// `JobRestarting` fires when a job restarts more than this many times
    /// within --alert-restarts-window-seconds.
    #[arg(long, env = "DREY_ALERT_RESTARTS_MAX", default_value_t = 3)]
    pub alert_restarts_max: u64,

    /// See --alert-restarts-max.
    #[arg(
        long,
        env = "DREY_ALERT_RESTARTS_WINDOW_SECONDS",
        default_value_t = 600
    )]
    pub alert_restarts_window_seconds: u64,

    /// `CheckpointTooOld` fires when a running job's newest completed
    /// checkpoint is older than this.
    #[arg(long, env = "DREY_ALERT_CHECKPOINT_AGE_SECONDS", default_value_t = 600)]
    pub alert_checkpoint_age_seconds: u64,

    /// `JobManagerNotAnswering` fires when a JobManager whose processes live
    /// has not answered for this long.
    #[arg(
        long,
        env = "DREY_ALERT_JOBMANAGER_SILENT_SECONDS",
        default_value_t = 30
    )]
    pub alert_jobmanager_silent_seconds: u64,

    /// Seconds to let in-flight requests finish after SIGTERM/SIGINT.
    #[arg(long, env = "DREY_SHUTDOWN_GRACE_SECONDS", default_value_t = 10)]
    pub shutdown_grace_seconds: u64,
}

/// Where `drey server` listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl ServerSettings {
    /// The data directory, with its default resolved.
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.data_dir {
            Some(dir) => Ok(dir.clone()),
            None => default_data_dir(),
        }
    }

    /// The state directory, with its default (the data dir) resolved.
    pub fn state_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.state_dir {
            Some(dir) => Ok(dir.clone()),
            None => self.data_dir(),
        }
    }
}

/// An `http://` or `https://` base URL, without a trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    /// The URL, without a trailing slash (append `/api/...`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for PublicUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let wrong = || {
            format!(
                "'{text}' is not a base URL such as https://drey.example.com \
                 (http or https, a host, no query or fragment)"
            )
        };
        let url = reqwest::Url::parse(text).map_err(|_| wrong())?;
        let ok = matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some_and(|h| !h.is_empty())
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none();
        if !ok {
            return Err(wrong());
        }
        Ok(PublicUrl(url.as_str().trim_end_matches('/').to_owned()))
    }
}

/// A `postgres://` URL. Its `Debug` hides the URL: it holds a password.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL, for connecting.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(..)")
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Ok(DatabaseUrl(text.to_owned()))
        } else {
            Err(
                "expected a PostgreSQL URL, postgres://USER:PASS@HOST:PORT/DB \
                 (without --database-url drey uses SQLite in the data dir)"
                    .into(),
            )
        }
    }
}

/// A duration in Flink's syntax, for clap.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    drey_model::duration::parse_flink_duration(text)
        .ok_or_else(|| format!("'{text}' is not a duration such as '24h', '30 min' or '1d'"))
}

/// `$XDG_DATA_HOME/drey/data`, else `~/.local/share/drey/data`.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .context("cannot find a data directory: set --data-dir, DREY_DATA_DIR or HOME")?;
    Ok(data_home.join("drey").join("data"))
}

/// An address a cluster's REST API can bind and others connect to: not a
/// wildcard (`0.0.0.0`, `::`), which cannot be advertised.
fn parse_rest_address(text: &str) -> Result<std::net::IpAddr, String> {
    let ip: std::net::IpAddr = text
        .parse()
        .map_err(|_| format!("{text} is not an IP address (such as 127.0.0.1 or 10.0.0.5)"))?;
    if ip.is_unspecified() || ip.is_multicast() {
        return Err(format!(
            "{text} cannot be advertised: give an address of this host that others reach"
        ));
    }
    Ok(ip)
}

/// A CIDR block (`10.0.0.0/8`, `fd00::/8`) or one address (`127.0.0.1`).
fn parse_net(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text} is not a CIDR block (such as 127.0.0.1/32) or an address"))
}

/// Finds `--config FILE` / `--config=FILE` / `DREY_CONFIG` before clap parses.
fn config_path() -> Option<PathBuf> {
    let args: Vec<String> = std::env::args().collect();
    for (i, arg) in args.iter().enumerate() {
        if arg == "--config" {
            return args.get(i + 1).map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("DREY_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The CLI definition with the settings file's values installed as defaults
/// of the `subcommand`'s arguments. Unknown keys in the file are an error.
pub fn command_with_config_defaults<C: CommandFactory>(
    subcommand: &str,
) -> anyhow::Result<clap::Command> {
    let mut command = C::command();
    let Some(path) = config_path() else {
        return Ok(command);
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read settings file {}", path.display()))?;
    let values: serde_json::Map<String, serde_json::Value> = serde_yaml_ng::from_str(&text)
        .with_context(|| format!("settings file {} is not a YAML map", path.display()))?;
    let Some(sub) = command.find_subcommand(subcommand) else {
        bail!("no subcommand {subcommand}");
    };
    // (long flag, argument id) of every setting.
    let args: Vec<(String, String)> = sub
        .get_arguments()
        .filter_map(|a| a.get_long().map(|l| (l.to_owned(), a.get_id().to_string())))
        .collect();
    let known: Vec<String> = args.iter().map(|(long, _)| long.clone()).collect();
    for (key, value) in values {
        let id = key.replace('_', "-");
        if !known.contains(&id) || id == "config" {
            bail!(
                "settings file {}: unknown setting '{key}' (known: {})",
                path.display(),
                known.join(", ")
            );
        }
        let text = match value {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        let arg_id = args
            .iter()
            .find(|(long, _)| *long == id)
            .map(|(_, arg)| arg.clone())
            .unwrap_or(id);
        command =
            command.mut_subcommand(subcommand, |s| s.mut_arg(arg_id, |a| a.default_value(text)));
    }
    Ok(command)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: ServerSettings,
    }

    #[test]
    fn listens_on_loopback_by_default() {
        let cli = Cli::try_parse_from(["drey"]).unwrap();
        assert_eq!(cli.settings.listen.to_string(), "127.0.0.1:8080");
        assert!(cli.settings.listen.ip().is_loopback());
        assert!(!cli.settings.insecure_allow_anonymous_remote);
        assert_eq!(cli.settings.auth, "none");
        assert!(cli.settings.public_url.is_none());
    }

    #[test]
    fn public_urls() {
        let url: PublicUrl = "https://drey.example.com/".parse().unwrap();
        assert_eq!(url.as_str(), "https://drey.example.com");
        let url: PublicUrl = "http://10.0.0.5:8080/drey/".parse().unwrap();
        assert_eq!(url.as_str(), "http://10.0.0.5:8080/drey");
        for bad in [
            "drey.example.com",
            "ftp://drey.example.com",
            "https://",
            "https://x.com/?a=1",
            "https://x.com/#f",
            "https://user:pw@x.com",
            "",
        ] {
            assert!(bad.parse::<PublicUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn outbound_allow_list_and_download_cap() {
        let cli = Cli::try_parse_from(["drey"]).unwrap();
        assert!(
            cli.settings.outbound_allow.is_empty(),
            "nothing allowed by default"
        );
        assert_eq!(cli.settings.download_max_bytes, 512 * 1024 * 1024);
        let cli = Cli::try_parse_from([
            "drey",
            "--outbound-allow",
            "127.0.0.1",
            "--outbound-allow",
            "10.0.0.0/8,fd00::/8",
        ])
        .unwrap();
        let allow: Vec<String> = cli
            .settings
            .outbound_allow
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(allow, ["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"]);
        for bad in ["10.0.0.0/33", "localhost", "10.0.0"] {
            assert!(
                Cli::try_parse_from(["drey", "--outbound-allow", bad]).is_err(),
                "{bad}"
            );
        }
    }
}
