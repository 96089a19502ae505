//! A WASI command (`wasi:cli/run`), not an xacct plugin: the host must refuse it.

fn main() {
    println!("I am a command, not a plugin");
}
