//! The crates' dependency boundaries, from `cargo tree -e normal`: what a
//! runtime gets when it depends on one crate alone.

/// `package`'s normal dependencies, as `cargo tree` lists them.
fn normal_tree(package: &str) -> Option<String> {
    cargo_tree(package, &[])
}

/// `cargo tree -e normal` of `package` with `extra` arguments; `None`
/// (saying so, as a skip) where cargo cannot be started from the test: a
/// Windows build run under Wine.
fn cargo_tree(package: &str, extra: &[&str]) -> Option<String> {
    let out = match std::process::Command::new(env!("CARGO"))
        .args(["tree", "-e", "normal", "-p", package, "--prefix", "none"])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
    {
        Ok(out) => out,
        Err(e) if cfg!(windows) => {
            springboard_testing::skip(format_args!(
                "cargo cannot be started from this process ({e})"
            ));
            return None;
        }
        Err(e) => panic!("cargo: {e}"),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(tree.contains(package), "{tree}");
    Some(tree)
}

/// Whether `tree` lists the crate `name` (not merely a crate that starts so).
fn has(tree: &str, name: &str) -> bool {
    tree.lines()
        .any(|line| line.split(' ').next() == Some(name))
}

#[test]
fn loader_does_not_depend_on_cranelift() {
    let Some(tree) = normal_tree("springboard-loader") else {
        return;
    };
    assert!(
        !tree.to_lowercase().contains("cranelift"),
        "the loader pulls in Cranelift:\n{tree}"
    );
    assert!(!has(&tree, "wasmparser"), "{tree}");
}

#[test]
fn compiler_does_not_depend_on_the_loader_or_executable_memory() {
    let Some(tree) = normal_tree("springboard-compiler") else {
        return;
    };
    for name in [
        "springboard-loader",
        "region",
        "wasmtime-jit-icache-coherence",
        "wasmparser",
    ] {
        assert!(!has(&tree, name), "the compiler pulls in {name}:\n{tree}");
    }
    assert!(has(&tree, "springboard-environ"), "{tree}");
}

#[test]
fn the_contract_crates_stay_small() {
    let Some(tree) = normal_tree("springboard-environ") else {
        return;
    };
    for name in [
        "cranelift-codegen",
        "springboard-loader",
        "region",
        "wasmparser",
    ] {
        assert!(!has(&tree, name), "environ pulls in {name}:\n{tree}");
    }
    let Some(tree) = normal_tree("springboard-vm-abi") else {
        return;
    };
    assert_eq!(
        tree.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "vm-abi has dependencies:\n{tree}"
    );
}

/// The crates' own table of arrows (`docs/ARCHITECTURE.md`, "| crate | uses
/// |"): each workspace crate and the workspace crates it may use, besides
/// `springboard-vm-abi`, which every crate may use directly.
fn documented_arrows() -> Vec<(String, Vec<String>)> {
    let doc = std::fs::read_to_string(workspace().join("docs/ARCHITECTURE.md")).unwrap();
    let names = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .filter(|name| name.starts_with("springboard"))
            .map(str::to_owned)
            .collect()
    };
    let table: Vec<(String, Vec<String>)> = doc
        .lines()
        .skip_while(|line| !line.starts_with("| crate | uses |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').collect();
            let krate = names(cells.get(1)?).pop()?;
            Some((krate, names(cells.get(2)?)))
        })
        .collect();
    assert!(table.len() >= 6, "no arrow table in docs/ARCHITECTURE.md");
    table
}

fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Each crate uses exactly the workspace crates the architecture documents
/// (with every feature on), and nothing above it: the facade and the check
/// crate, documented as not knowing each other, do not.
#[test]
fn every_documented_arrow_and_no_other() {
    let arrows = documented_arrows();
    for (krate, uses) in &arrows {
        let Some(tree) = cargo_tree(krate, &["--depth", "1", "--all-features"]) else {
            return;
        };
        let mut actual: Vec<&str> = tree
            .lines()
            .skip(1)
            .filter_map(|line| line.split(' ').next())
            .filter(|name| name.starts_with("springboard") && *name != "springboard-vm-abi")
            .collect();
        actual.sort_unstable();
        actual.dedup();
        let mut documented: Vec<&str> = uses
            .iter()
            .map(String::as_str)
            .filter(|name| *name != "springboard-vm-abi")
            .collect();
        documented.sort_unstable();
        assert_eq!(actual, documented, "{krate}'s workspace dependencies");
    }
    let facade = arrows.iter().find(|(k, _)| k == "springboard").unwrap();
    let check = arrows
        .iter()
        .find(|(k, _)| k == "springboard-check")
        .unwrap();
    assert!(!facade.1.contains(&check.0) && !check.1.contains(&facade.0));
}

/// No import circle inside any crate: between the top-level modules of each
/// crate (a module's own submodules are part of it), an arrow is a
/// `crate::` path in code (not in comments), resolved through the crate
/// root's re-exports.
#[test]
fn no_import_circle_inside_any_crate() {
    let crates = workspace().join("crates");
    let mut checked = 0;
    for entry in std::fs::read_dir(&crates).unwrap() {
        let src = entry.unwrap().path().join("src");
        for root in ["lib.rs", "main.rs"] {
            if src.join(root).exists() {
                let graph = module_graph(&src, root);
                if let Some(circle) = find_circle(&graph) {
                    panic!(
                        "import circle in {}: {}",
                        src.display(),
                        circle.join(" -> ")
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 7, "only {checked} crates found");
}

/// The check itself: a circle is found, and none where there is none.
#[test]
fn circles_are_found() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    let circle = find_circle(&graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")]));
    assert_eq!(circle.map(|c| c.len()), Some(4), "a -> b -> c -> a");
    assert_eq!(
        find_circle(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])),
        None
    );
    let src = std::env::temp_dir().join(format!("sb-circle-{}", std::process::id()));
    std::fs::create_dir_all(src.join("m")).unwrap();
    let write = |file: &str, text: &str| std::fs::write(src.join(file), text).unwrap();
    write("lib.rs", "mod m;\nmod n;\npub use n::Thing;\n");
    write("m/mod.rs", "mod inner;\n// use crate::n;\nfn f() {}\n");
    write("m/inner.rs", "use crate::{Thing, m::Other};\n");
    write("n.rs", "pub struct Thing;\nfn g() { crate::m::f() }\n");
    let graph = module_graph(&src, "lib.rs");
    assert!(find_circle(&graph).is_some(), "{graph:?}");
    write(
        "m/inner.rs",
        "/* crate::Thing */ use super::*; const S: &str = \"crate::n\";\n",
    );
    let graph = module_graph(&src, "lib.rs");
    std::fs::remove_dir_all(&src).unwrap();
    assert_eq!(find_circle(&graph), None, "{graph:?}");
}

type Graph = std::collections::BTreeMap<String, std::collections::BTreeSet<String>>;

/// Top-level module -> the top-level modules its files name.
fn module_graph(src: &std::path::Path, root: &str) -> Graph {
    let root_text = strip_comments_and_strings(&std::fs::read_to_string(src.join(root)).unwrap());
    let words = |line: &str| -> Vec<String> {
        line.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    // `mod name;` declarations, and `pub use name::{...}` re-exports.
    let mut modules = std::collections::BTreeSet::new();
    let mut reexports = std::collections::BTreeMap::new();
    for statement in root_text.split(';') {
        let w = words(statement);
        let w: Vec<&str> = w
            .iter()
            .map(String::as_str)
            .skip_while(|w| *w == "pub" || *w == "crate")
            .collect();
        match w.as_slice() {
            ["mod", name] => {
                modules.insert(name.to_string());
            }
            ["use", module, items @ ..] => {
                for item in items {
                    reexports.insert(item.to_string(), module.to_string());
                }
            }
            _ => {}
        }
    }
    let mut graph = Graph::new();
    for module in &modules {
        let mut files = vec![src.join(format!("{module}.rs"))];
        if let Ok(dir) = std::fs::read_dir(src.join(module)) {
            files.extend(dir.map(|e| e.unwrap().path()));
        }
        let arrows = graph.entry(module.clone()).or_default();
        for file in files.iter().filter(|f| f.is_file()) {
            let text = strip_comments_and_strings(&std::fs::read_to_string(file).unwrap());
            for target in crate_paths(&text) {
                let target = if modules.contains(&target) {
                    Some(target)
                } else {
                    reexports.get(&target).cloned()
                };
                if let Some(target) = target.filter(|t| t != module) {
                    arrows.insert(target);
                }
            }
        }
    }
    graph
}

/// The first name after each `crate::`, each name of a `crate::{…}` group.
fn crate_paths(text: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = text[at + "crate::".len()..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut start) = (0, 0);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        names.push(ident(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.push(ident(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            names.push(ident(rest));
        }
    }
    names.retain(|n| !n.is_empty() && n != "self");
    names
}

/// `text` without comments (so without doc links) and string literals.
fn strip_comments_and_strings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        _ => escaped = false,
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// A circle of `graph`, as the path around it, if it has one.
fn find_circle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}
