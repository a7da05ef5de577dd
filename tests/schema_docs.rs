//! `cloudboot schema --docs`: cloud-init's option, printing each module's
//! doc from the module registry (name, summary, frequency, distros, the keys
//! that activate it, the keys it reads with their types).

mod common;

use std::process::Output;

use common::BIN;

fn schema(args: &[&str]) -> Output {
    std::process::Command::new(BIN)
        .arg("schema")
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn one_module_reads_as_cloud_inits_docs() {
    let out = schema(&["--docs", "cc_runcmd"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "\nruncmd\n------\n\
         **Summary:** run commands late in boot (written here, run by scripts_user)\n\n\
         **Internal name:** ``cc_runcmd``\n\n\
         **Module frequency:** once-per-instance\n\n\
         **Supported distros:** all\n\n\
         **Activate only on keys:** ``runcmd``\n\n\
         **Config schema**:\n    **runcmd:** (array of (array of string/string/null))\n\n\n"
    );
    // The type line is 22.4's (its schema's `runcmd` type, as 22.4 prints
    // it); cloudboot's own spelling of the module works too.
    assert_eq!(schema(&["-d", "runcmd"]).stdout, out.stdout);
}

#[test]
fn all_lists_every_registered_module_with_its_keys() {
    let out = schema(&["--docs", "all"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let docs = text(&out.stdout);
    // Where each module's doc starts, in registry order.
    let mut starts = Vec::new();
    for m in cloudboot::modules::all() {
        let info = m.info();
        let head = format!(
            "\n{}\n{}\n**Summary:** {}\n",
            info.name,
            "-".repeat(info.name.len()),
            info.summary
        );
        let from = starts.last().map_or(0, |s| s + 1);
        let at = docs[from..]
            .find(&head)
            .unwrap_or_else(|| panic!("no doc for {} (in registry order):\n{docs}", info.name));
        starts.push(from + at);
    }
    starts.push(docs.len());
    for (m, span) in cloudboot::modules::all().iter().zip(starts.windows(2)) {
        let info = m.info();
        let doc = &docs[span[0]..span[1]];
        assert!(
            doc.contains(&format!(
                "**Module frequency:** {}\n",
                info.frequency.as_str()
            )),
            "{doc}"
        );
        for key in info.keys {
            assert!(doc.contains(&format!("    **{key}:**")), "{key}:\n{doc}");
        }
        for key in info.activate_by {
            assert!(
                doc.contains("**Activate only on keys:** ") && doc.contains(&format!("``{key}``")),
                "{key}:\n{doc}"
            );
        }
    }
}

#[test]
fn unknown_names_and_other_options_are_refused_as_cloud_init_refuses_them() {
    let out = schema(&["--docs", "cc_runcmd", "cc_nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("Error:\nInvalid --docs value ['cc_nope']. Must be one of: cc_"),
        "{err}"
    );
    assert!(err.trim_end().ends_with(", all"), "{err}");
    assert!(out.stdout.is_empty());

    let out = schema(&["--docs", "all", "--annotate"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "Error:\nInvalid flag combination. Cannot use --annotate with --docs\n"
    );
    for args in [&["--docs", "all", "--system"][..], &[]] {
        let out = schema(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(
            text(&out.stderr),
            "Error:\nExpected one of --config-file, --system or --docs arguments\n",
            "{args:?}"
        );
    }
    let out = schema(&["--docs"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).ends_with("error: argument -d/--docs: expected at least one argument\n")
    );
}
