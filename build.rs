//! Rebuild when a migration is added, so `embed_migrations!` sees it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=migrations-adopt");
}
