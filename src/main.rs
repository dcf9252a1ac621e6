//! The `tally` command: argv → config → agent (or a one-shot command). Errors are reported
//! here, once, with their chain of causes.

use anyhow::Context as _;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tally::config::{self, Config};
use tally::query::{self, Range, attime};
use tally::store::Store;

/// Where the packaged config lives; used when no -c is given and the file exists.
const SYSTEM_CONFIG: &str = "/etc/tally/tally.yaml";

#[derive(Parser)]
#[command(
    name = "tally",
    version,
    about = "Host metrics agent: system collectors, log parsers, StatsD and carbon in; resolution \
buckets, a Graphite-compatible store and API, shipping out",
    long_about = "tally turns what a host does into numbers and graphs. It collects system metrics \
with Diamond's names, tails logs through YAML regex parsers, and listens for StatsD and carbon \
(Graphite plaintext, and pickle from carbon-relay). Every observation is folded into resolution buckets (count, sum, min, max, \
last, and a percentile sketch for timers), kept in an embedded store that survives kill -9, and \
served through graphite-web's HTTP API, so Grafana's Graphite data source works against it \
unchanged. Outputs ship the buckets to a central tally, carbon or Prometheus remote_write \
through crash-safe disk spools.\n\nThe config is YAML; /etc/tally/tally.yaml (or config/tally.yaml \
in the source) documents every key by example.",
    after_help = "Examples:\n  tally run                          # built-in defaults: ./tally-data, API on 127.0.0.1:8080\n  \
tally run -c /etc/tally/tally.yaml\n  tally check -c /etc/tally/tally.yaml   # before a reload (systemctl reload tally)\n  \
tally query 'servers.*.loadavg.01' --from -1h\n  tally query 'web.requests:sumrate' --from -1d --max-data-points 100\n\n\
Send a value:  echo \"test.value 42 -1\" | nc -q0 127.0.0.1 2003\nRead it back: curl '127.0.0.1:8080/render?target=test.value&from=-5min&format=json'"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr: `text` (level first), `json` (one object per line), or `journal`
    /// (`<N>` syslog priority prefixes for journald). Default: `journal` when stderr is the
    /// systemd journal, else `text`.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    /// Least severe messages logged: error, warn, info (default), debug or trace. `TALLY_LOG`
    /// (an `EnvFilter` such as `info,tally::ship=debug`) is used when this is not given.
    #[arg(long, global = true, value_enum)]
    log_level: Option<LogLevel>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    fn directive(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
    Journal,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: listeners, aggregation, store and HTTP API. SIGHUP reloads the config;
    /// SIGTERM or SIGINT flushes and stops.
    Run {
        /// Config file (default: /etc/tally/tally.yaml if it exists, else built-in defaults).
        #[arg(short, long, env = "TALLY_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Validate a config file; every problem is listed as file:line:col and the exit status is
    /// non-zero if there is any.
    Check {
        #[arg(short, long, env = "TALLY_CONFIG", default_value = SYSTEM_CONFIG)]
        config: PathBuf,
    },
    /// Replay log files once through parsers and print what would be recorded: one Graphite
    /// line per series (totals over the files), then the events, then each parser's counters
    /// as `#` lines on stderr. The way to try a parser on a real log before deploying it.
    Parse {
        #[arg(short, long, env = "TALLY_CONFIG")]
        config: Option<PathBuf>,
        /// Parser name (from the config's parser_dirs); repeat for several.
        #[arg(short, long = "parser", required = true)]
        parsers: Vec<String>,
        /// Also load parsers from this file or directory (tried before parser_dirs).
        #[arg(long)]
        parser_file: Vec<PathBuf>,
        /// Put before every metric name, as an input's `prefix` does.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Percentiles printed for timers, e.g. `--percentile 99.9` or `-P 50,99,99.9`
        /// (default 50, 90, 99).
        #[arg(short = 'P', long = "percentile", value_delimiter = ',')]
        percentiles: Vec<f64>,
        /// Log files to replay.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// One round of the system collectors, printed as Graphite lines. Several --root
    /// directories are successive snapshots of a /proc taken SECS apart (rates come from the
    /// last two); without --root, the live /proc is sampled twice, SECS apart.
    Collect {
        #[arg(short, long, env = "TALLY_CONFIG")]
        config: Option<PathBuf>,
        /// A copy of /proc (repeat, oldest first).
        #[arg(long = "root")]
        roots: Vec<PathBuf>,
        /// Seconds between the snapshots.
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
        /// Collectors to run (default: the config's, else Diamond's default set).
        #[arg(long, value_delimiter = ',')]
        collectors: Vec<String>,
    },
    /// Print a series (path, glob or path:view) from the store as Graphite lines
    /// `path value timestamp`. Works while the daemon runs (the store is read, not locked).
    Query {
        /// e.g. `servers.web1.cpu.total.user`, `web.*.requests:sumrate`, `api.latency:p99`
        target: String,
        #[arg(short, long, env = "TALLY_CONFIG")]
        config: Option<PathBuf>,
        /// Start (exclusive), in graphite's formats: -1h, -15min, 1700000000, 04:00_20240101.
        #[arg(long, default_value = "-1d", allow_hyphen_values = true)]
        from: String,
        /// End (inclusive), same formats.
        #[arg(long, default_value = "now", allow_hyphen_values = true)]
        until: String,
        /// View when the target has no `:view` suffix: avg, sum, sumrate, sumN, obvs, obvsrate,
        /// min, max, last, pNN, distinct (default: by kind).
        #[arg(long)]
        view: Option<String>,
        /// Merge buckets so each series has at most this many points.
        #[arg(long)]
        max_data_points: Option<u64>,
        /// Also print points that have no data, as `None`.
        #[arg(long)]
        nulls: bool,
    },
    /// Print a shell completion script: `tally completions bash > /etc/bash_completion.d/tally`
    /// (packages install them for bash, zsh and fish).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `tally man | man -l -` (packages install it as tally(1)).
    Man,
}

fn init_logging(format: Option<LogFormat>, level: Option<LogLevel>) {
    let format = format.unwrap_or(if tally::agent::systemd::stderr_is_journal() {
        LogFormat::Journal
    } else {
        LogFormat::Text
    });
    let filter = match level {
        Some(l) => tracing_subscriber::EnvFilter::new(l.directive()),
        None => tracing_subscriber::EnvFilter::try_from_env("TALLY_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    match format {
        LogFormat::Json => builder.json().init(),
        // RFC 3339 times in UTC; the journal stamps its own.
        LogFormat::Text => builder.init(),
        LogFormat::Journal => builder
            .with_ansi(false)
            .event_format(tally::agent::systemd::JournalFormat)
            .init(),
    }
}

fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(p) => Ok(config::load(p)?),
        None if Path::new(SYSTEM_CONFIG).exists() => Ok(config::load(Path::new(SYSTEM_CONFIG))?),
        None => Ok(config::defaults()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.log_level);
    match run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Completions { shell } => {
            let mut cli = Cli::command();
            clap_complete::generate(shell, &mut cli, "tally", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { config } => {
            let config = load_config(config.as_deref())?;
            if config.source.is_none() {
                tracing::info!(data_dir = %config.data_dir.display(), "No config file; using built-in defaults.");
            }
            // Before any thread starts (see agent/heap.rs).
            let arenas = tally::agent::limit_arenas();
            tracing::debug!(?arenas, "malloc arenas limited");
            // Blocking-pool threads idle for a minute before they exit: the idle daemon's commit
            // and maintenance come every 10 s, and tokio's default 10 s keep-alive made a new
            // thread for nearly every one (BENCHMARKS.md, "Issue 13, fifth round").
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_keep_alive(std::time::Duration::from_secs(60))
                .build()?;
            runtime.block_on(tally::agent::run_until_signalled(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config } => match config::load(&config) {
            Ok(c) => {
                let (parsers, errors) = tally::parse::load(&c.parser_dirs);
                for e in &errors {
                    eprintln!("{e}");
                }
                for w in parsers.iter().flat_map(|p| p.warnings()) {
                    eprintln!("warning: {w}");
                }
                let unbound = tally::agent::check_tail_parsers(&c, &parsers);
                if let Err(e) = &unbound {
                    eprintln!("{}: {e:#}", config.display());
                }
                // A warning, not an error: the running tally holds its own addresses, and a
                // listener that cannot bind is retried while the rest runs.
                for taken in tally::agent::listen_addresses_taken(&c) {
                    eprintln!("warning: {}: {taken}", config.display());
                }
                let (dashboards, bad) = tally::dashboard::load(&c.dashboard_dirs, &c.hostname);
                for e in &bad {
                    eprintln!("{e}");
                }
                if !errors.is_empty() || unbound.is_err() || !bad.is_empty() {
                    return Ok(ExitCode::FAILURE);
                }
                println!(
                    "{}: ok (data_dir {}, {} schema(s), {} parser(s), {} tail input(s), {} dashboard(s))",
                    config.display(),
                    c.data_dir.display(),
                    c.storage.schemas.list.len(),
                    parsers.len(),
                    c.tail.len(),
                    dashboards.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Parse {
            config,
            parsers: names,
            parser_file,
            prefix,
            percentiles,
            files,
        } => {
            if let Some(p) = percentiles.iter().find(|p| !(**p > 0.0 && **p < 100.0)) {
                anyhow::bail!("--percentile {p}: expected a number above 0 and below 100");
            }
            let config = load_config(config.as_deref())?;
            let mut dirs = parser_file;
            dirs.extend(config.parser_dirs.iter().cloned());
            let mut loaded = Vec::new();
            let mut problems = Vec::new();
            for d in &dirs {
                let (found, errors) = if d.is_file() {
                    match tally::parse::load_file(d) {
                        Ok(p) => (p, Vec::new()),
                        Err(e) => (Vec::new(), vec![e]),
                    }
                } else {
                    tally::parse::load(std::slice::from_ref(d))
                };
                problems.extend(errors);
                for p in found {
                    if !loaded
                        .iter()
                        .any(|l: &tally::parse::Parser| l.name() == p.name())
                    {
                        loaded.push(p);
                    }
                }
            }
            for e in &problems {
                eprintln!("{e}");
            }
            let mut chosen = Vec::new();
            for name in &names {
                match loaded.iter().find(|p| p.name() == name) {
                    Some(p) => chosen.push(p),
                    None => anyhow::bail!(
                        "no parser named {name:?} in {}",
                        dirs.iter()
                            .map(|d| d.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            }
            for w in chosen.iter().flat_map(|p| p.warnings()) {
                eprintln!("warning: {w}");
            }
            let now = tally::clock::unix_now();
            let percentiles = if percentiles.is_empty() {
                tally::parse::PERCENTILES.to_vec()
            } else {
                percentiles
            };
            let replay = tally::parse::replay_with(&chosen, &prefix, &files, now, &percentiles)?;
            print!("{replay}");
            eprint!("{}", replay.summary());
            Ok(ExitCode::SUCCESS)
        }
        Command::Collect {
            config,
            roots,
            interval,
            collectors,
        } => {
            let config = load_config(config.as_deref())?;
            let system = match &config.system {
                Some(s) => s.clone(),
                None => anyhow::bail!("inputs.system is disabled in this config"),
            };
            // One round is every collector (`Collectors::collect`): snapshots are taken
            // `--interval` apart, whatever each collector's own sampling interval.
            let mut settings = tally::agent::collect_settings(&system);
            if !collectors.is_empty() {
                settings.collectors = collectors;
            }
            if let Some(first) = roots.first() {
                settings.proc_root = first.clone();
            }
            let mut c = tally::inputs::collect::Collectors::new(settings)?;
            let interval = interval.max(0.001);
            let now = tally::clock::unix_now();
            let rounds = roots.len().max(2);
            let mut last = Vec::new();
            for i in 0..rounds {
                if let Some(root) = roots.get(i) {
                    c.set_proc_root(root);
                } else if i > 0 {
                    std::thread::sleep(std::time::Duration::from_secs_f64(interval));
                }
                let elapsed = if i == 0 { 0.0 } else { interval };
                let t = now - ((rounds - 1 - i) as f64 * interval) as i64;
                last = c.collect(t, elapsed);
                if roots.len() == 1 {
                    break;
                }
            }
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            for o in &last {
                writeln!(stdout, "{} {} {}", o.series, o.value, o.time)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Query {
            target,
            config,
            from,
            until,
            view,
            max_data_points,
            nulls,
        } => {
            let config = load_config(config.as_deref())?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs() as i64;
            let from = attime::parse(&from, now).context("--from")?;
            let until = attime::parse(&until, now).context("--until")?;
            let target = match view {
                Some(v) if query::View::split(&target).1.is_none() => {
                    if query::View::parse(&v).is_none() {
                        anyhow::bail!(
                            "--view {v:?}: not a view (avg, sum, sumrate, sumN, obvs, obvsrate, min, max, last, pNN, distinct)"
                        );
                    }
                    format!("{target}:{v}")
                }
                _ => target,
            };
            let store = Store::open_read_only(tally::agent::store_options(&config))
                .with_context(|| format!("open the store in {}", config.data_dir.display()))?;
            let options = query::Options {
                tier_choice: config.query.tier_choice,
                max_points_per_series: config.query.max_points_per_series,
                max_series: config.query.max_series,
                max_series_per_request: config.query.max_series_per_request,
                max_points_soft: config.query.max_points_soft,
                max_points_hard: config.query.max_points_hard,
                timeout_ms: config.query.timeout_ms,
            };
            let range = Range {
                from: from.min(until),
                until: until.max(from),
                now,
                max_data_points,
            };
            let out = query::run(&store, &config.storage.schemas, &options, &target, &range)?;
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            for s in &out {
                for (i, v) in s.values.iter().enumerate() {
                    let ts = s.start + i as i64 * i64::from(s.step);
                    match v {
                        Some(v) => writeln!(stdout, "{} {v} {ts}", s.name)?,
                        None if nulls => writeln!(stdout, "{} None {ts}", s.name)?,
                        None => {}
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
