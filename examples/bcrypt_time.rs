//! Prints how long one bcrypt hash takes at a cost (default 12), single-threaded, with the
//! crate the server uses. Used by bench/pages_load.sh for "cores / bcrypt time".
//! Usage: cargo run --release --example bcrypt_time -- [cost]
#![allow(clippy::unwrap_used, clippy::expect_used)]

fn main() {
    let cost: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(12);
    let n = 5;
    let start = std::time::Instant::now();
    for _ in 0..n {
        let _ = camcops_web::auth::password::hash("bench-password-42", cost).unwrap();
    }
    let ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
    println!("{ms:.1}");
}
