fn main() {
    let mut argv = std::env::args();
    let called_as = argv.next().unwrap_or_default();
    let args: Vec<String> = argv.collect();
    let name = std::path::Path::new(&called_as)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // cloud-init's helper, under its own names (a link to this binary) or as
    // `cloudboot per ...`; its arguments are a command line of their own, so
    // they never go through cloudboot's option parsing.
    let code = match (name.as_str(), args.first().map(String::as_str)) {
        ("cloud-init-per" | "cloud-init-run-module", _) => cloudboot::per::main(&name, &args),
        (_, Some("per")) => cloudboot::per::main("cloudboot per", &args[1..]),
        _ => cloudboot::cli::main(args),
    };
    std::process::exit(code);
}
