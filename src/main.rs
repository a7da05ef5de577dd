/// The static build's allocator (see src/alloc.rs); the glibc build keeps glibc's.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: cloudboot::alloc::Pooled = cloudboot::alloc::Pooled::new();

fn main() {
    let mut argv = std::env::args();
    let called_as = argv.next().unwrap_or_default();
    let args: Vec<String> = argv.collect();
    let name = std::path::Path::new(&called_as)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // cloud-init's helper, under its own names (a link to this binary): its
    // arguments are a command line of their own. Otherwise cloud-init's
    // command line, with the program shown as it was called (argparse's way).
    let code = match name.as_str() {
        "cloud-init-per" | "cloud-init-run-module" => cloudboot::per::main(&name, &args),
        "cloud-id" => cloudboot::cloud_id::main(&name, &args),
        "write-ssh-key-fingerprints" => cloudboot::fingerprints::main(&name, &args),
        _ => cloudboot::cli::main(&cloudboot::cli::shown_prog(&called_as), args),
    };
    std::process::exit(code);
}
