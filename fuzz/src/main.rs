//! One AFL++ harness for every target: `fuzz-target <name>` (names: registry_fuzz::TARGETS).

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = registry_fuzz::target(&name) else {
        let names: Vec<_> = registry_fuzz::TARGETS.iter().map(|t| t.name).collect();
        eprintln!("usage: fuzz-target <{}>", names.join("|"));
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| (target.run)(data));
}
