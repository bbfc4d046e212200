//! Slow and numerous clients: bodies dribbled byte by byte are cut off at
//! `REQUEST_TIMEOUT_S` (408, connection closed), normal requests keep their latency
//! meanwhile, and no more than `MAX_CONNECTIONS` connections are ever open.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;
use crate::testdb::backend_test;

/// Sends a POST head announcing a 1,000-byte body, then one byte every 300 ms until the
/// server answers or closes; returns what it read and how long it took.
async fn dribble(addr: String) -> (String, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            n = s.read(&mut buf) => {
                let n = n.unwrap_or(0);
                return (String::from_utf8_lossy(&buf[..n]).into_owned(), started.elapsed());
            }
            _ = tokio::time::sleep(Duration::from_millis(300)) => {
                if s.write_all(b"a").await.is_err() {
                    return (String::new(), started.elapsed());
                }
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never cut off");
    }
}

backend_test! {
    /// 30 dribbling clients are all answered 408 at about the timeout; meanwhile ordinary
    /// requests answer quickly; then 80 idle connections never get more than the cap of 40
    /// open, and all are gone again afterwards.
    async fn dribbled_bodies_time_out_and_the_connection_cap_holds(db) {
        if db.backend() != camcops_web::db::Backend::Sqlite {
            return; // nothing here depends on the database
        }
        let app = TestApp::spawn_with(db, |s| {
            s.request_timeout_s = 2;
            s.max_connections = 40;
        })
        .await;
        let addr = app.address.trim_start_matches("http://").to_string();
        let dribblers: Vec<_> = (0..30).map(|_| tokio::spawn(dribble(addr.clone()))).collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut slowest = Duration::ZERO;
        for _ in 0..10 {
            let started = Instant::now();
            let r = crate::helpers::new_client().get(app.url("/login")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            slowest = slowest.max(started.elapsed());
        }
        assert!(slowest < Duration::from_secs(1), "normal requests slowed to {slowest:?}");
        for d in dribblers {
            let (reply, took) = d.await.unwrap();
            assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
            assert!(reply.to_ascii_lowercase().contains("connection: close"), "{reply}");
            assert!(reply.contains("x-content-type-options: nosniff"), "{reply}");
            assert!(took >= Duration::from_millis(1500) && took < Duration::from_secs(8), "{took:?}");
        }
        // Idle connections beyond the cap wait in the backlog.
        let gauge = app.state.metrics.open_connections.clone();
        let mut idle = Vec::new();
        for _ in 0..80 {
            idle.push(TcpStream::connect(addr.clone()).await.unwrap());
        }
        let mut most = 0;
        let until = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < until {
            most = most.max(gauge.get());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(most <= 40, "{most} connections open, cap 40");
        assert!(most >= 20, "only {most} connections seen open");
        drop(idle);
        let until = Instant::now() + Duration::from_secs(10);
        while gauge.get() > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(gauge.get(), 0, "connections not released");
    }
}
