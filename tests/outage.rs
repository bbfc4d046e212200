//! Outage tests: each starts a database server of its own (a PostgreSQL cluster in a temporary
//! directory on a spare port, or a MariaDB server with its own datadir), stops it under load
//! (`pg_ctl -m immediate`, SIGKILL) and starts it again, and asserts: only 200
//! or 503 (never 500), each 503 within the bound, `/healthz` within 1 s, the same session valid
//! after recovery, and the first request after recovery succeeds.
//!
//! Ignored by plain `cargo test` (they need the server binaries); `.ci/run` runs them with
//! `cargo test --all-features --test outage -- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "it/helpers.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "it/testdb.rs"]
#[allow(dead_code)]
mod testdb;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use camcops_web::db::{build_pool_with, Backend};

use helpers::TestApp;
use testdb::TestDb;

/// The bound on any one request while the database is away (checkout 1 s + statement 1 s +
/// 1 s, with room for a loaded 2-core machine).
const REQUEST_BOUND: Duration = Duration::from_secs(4);
/// `/healthz` must answer within this.
const HEALTH_BOUND: Duration = Duration::from_secs(1);

fn spare_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a server tool, as `postgres` when we are root (PostgreSQL refuses root).
fn run_tool(tool: &Path, args: &[&str]) {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(tool);
        c
    } else {
        Command::new(tool)
    };
    let out = cmd.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{} {args:?}: {}{}",
        tool.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PostgreSQL cluster of this test's own, removed on drop.
struct PgCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl PgCluster {
    fn start() -> PgCluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries under /usr/lib/postgresql")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("an initdb under /usr/lib/postgresql/*/bin");
        let dir = tempfile::Builder::new()
            .prefix("camcops-outage-pg-")
            .tempdir()
            .unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let data = dir.path().join("data");
        run_tool(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        let c = PgCluster {
            bin,
            dir,
            port: spare_port(),
        };
        c.pg_ctl_start();
        c
    }

    fn pg_ctl_start(&self) {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("log");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        run_tool(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "start",
            ],
        );
    }

    fn stop(&self) {
        let data = self.dir.path().join("data");
        run_tool(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        if is_root() {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", data.to_str().unwrap_or(""), "-m", "immediate", "stop"])
                .output();
        } else {
            let _ = Command::new(self.bin.join("pg_ctl"))
                .args(["-D", data.to_str().unwrap_or(""), "-m", "immediate", "stop"])
                .output();
        }
    }
}

/// What the load saw: (seconds since start, status, latency).
type Seen = Arc<Mutex<Vec<(f64, u16, Duration)>>>;

/// `n` clients sharing the logged-in client's cookie, each doing `GET /` in a loop.
fn start_load(
    app: &TestApp,
    n: usize,
    seen: Seen,
    t0: Instant,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let client = app.client.clone();
            let url = app.url("/");
            let seen = seen.clone();
            tokio::spawn(async move {
                loop {
                    let started = Instant::now();
                    let status = match client.get(&url).send().await {
                        Ok(r) => r.status().as_u16(),
                        Err(_) => 0,
                    };
                    seen.lock().unwrap().push((
                        t0.elapsed().as_secs_f64(),
                        status,
                        started.elapsed(),
                    ));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect()
}

/// Polls `/healthz` until it says `want`, asserting each answer within [`HEALTH_BOUND`].
async fn healthz_until(app: &TestApp, want: u16, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let asked = Instant::now();
        let r = helpers::new_client()
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap();
        let took = asked.elapsed();
        assert!(took < HEALTH_BOUND, "/healthz took {took:?}");
        if r.status().as_u16() == want {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "/healthz never said {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A MariaDB server of this test's own (own datadir, socket and spare port, no grant
/// tables), killed with SIGKILL to stop it.
struct Mariadb {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<std::process::Child>,
}

impl Mariadb {
    fn start() -> Mariadb {
        let dir = tempfile::Builder::new()
            .prefix("camcops-outage-mariadb-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        let out = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .arg(format!("--user={}", if is_root() { "root" } else { "" }))
            .output()
            .expect("mariadb-install-db (apt-get install mariadb-server)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut m = Mariadb {
            dir,
            port: spare_port(),
            child: None,
        };
        m.spawn();
        m
    }

    fn spawn(&mut self) {
        let d = self.dir.path();
        let child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", d.join("data").display()))
            .arg(format!("--socket={}", d.join("sock").display()))
            .arg(format!("--pid-file={}", d.join("pid").display()))
            .arg(format!("--log-error={}", d.join("log").display()))
            .arg(format!("--port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-grant-tables",
                "--innodb-buffer-pool-size=16M",
                "--innodb-log-file-size=8M",
            ])
            .spawn()
            .expect("mariadbd");
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "mariadbd did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/mysql", self.port)
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The common outage scenario on a server `stop`/`start` control, reached at `admin_url`.
async fn outage_under_load(
    backend: Backend,
    admin_url: String,
    mut stop: impl FnMut(),
    mut start: impl FnMut(),
) {
    let var = match backend {
        Backend::Postgres => testdb::POSTGRES_ENV,
        _ => testdb::MYSQL_ENV,
    };
    std::env::set_var(var, admin_url);
    let db = TestDb::new(backend);
    let mut settings = helpers::test_settings(&db);
    settings.db_pool_checkout_timeout_s = 1;
    settings.db_statement_timeout_s = 1;
    let pool = build_pool_with(&db.db_url(), settings.pool_options()).unwrap();
    let app = TestApp::spawn_with_pool(db, pool, |s| *s = settings).await;
    app.create_user("alice", "correct horse battery");
    assert_eq!(
        app.login("alice", "correct horse battery").await.status(),
        303
    );
    let seen: Seen = Arc::default();
    let t0 = Instant::now();
    let load = start_load(&app, 8, seen.clone(), t0);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let stopped_at = t0.elapsed().as_secs_f64();
    stop();
    let down_after = healthz_until(&app, 503, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    start();
    let started_at = t0.elapsed().as_secs_f64();
    let up_after = healthz_until(&app, 200, Duration::from_secs(15)).await;
    // The first request after recovery, with the same session.
    let r = app.get("/").await;
    assert_eq!(r.status(), 200, "first request after recovery");
    tokio::time::sleep(Duration::from_secs(2)).await;
    for l in load {
        l.abort();
    }
    let seen = seen.lock().unwrap().clone();
    let bad: Vec<_> = seen
        .iter()
        .filter(|(_, s, _)| *s != 200 && *s != 503)
        .collect();
    assert!(bad.is_empty(), "statuses other than 200/503: {bad:?}");
    let slow: Vec<_> = seen
        .iter()
        .filter(|(_, s, d)| *s == 503 && *d > REQUEST_BOUND)
        .collect();
    assert!(
        slow.is_empty(),
        "503s slower than {REQUEST_BOUND:?}: {slow:?}"
    );
    let n503 = seen.iter().filter(|(_, s, _)| *s == 503).count();
    let worst = seen
        .iter()
        .filter(|(_, s, _)| *s == 503)
        .map(|(_, _, d)| *d)
        .max()
        .unwrap_or_default();
    let after = seen
        .iter()
        .filter(|(t, _, _)| *t > started_at + up_after.as_secs_f64() + 0.5)
        .collect::<Vec<_>>();
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|(_, s, _)| *s == 200),
        "failures after recovery: {after:?}"
    );
    assert!(n503 > 0, "the outage was not noticed");
    eprintln!(
        "{backend} outage: stopped at {stopped_at:.1} s, /healthz 503 after {down_after:?}, \
         restarted at {started_at:.1} s, /healthz 200 after {up_after:?}; {} requests, \
         {n503} x 503 (slowest {worst:?}), 0 others",
        seen.len()
    );
}

#[actix_web::test]
#[ignore = "starts its own PostgreSQL cluster; run by .ci/run"]
async fn postgres_stopped_under_load_gives_503_and_recovers() {
    let cluster = PgCluster::start();
    let url = cluster.url();
    outage_under_load(
        Backend::Postgres,
        url,
        || cluster.stop(),
        || cluster.pg_ctl_start(),
    )
    .await;
}

#[actix_web::test]
#[ignore = "starts its own MariaDB server; run by .ci/run"]
async fn mariadb_killed_under_load_gives_503_and_recovers() {
    let server = std::cell::RefCell::new(Mariadb::start());
    let url = server.borrow().url();
    outage_under_load(
        Backend::Mysql,
        url,
        || server.borrow_mut().stop(),
        || server.borrow_mut().spawn(),
    )
    .await;
}
