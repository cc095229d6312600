//! The checks of one crate root: its layer order lists each of its
//! modules once; no module imports from a module listed above its own
//! (arrows between top-level modules); no module other than the root uses
//! a name through the root (`crate::Error`); and no import circle between
//! modules (each file or inline module a node, each path into another
//! module's items an edge).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use syn::{Item, UseTree};

use crate::layers::order::{self, Order};
use crate::layers::refs::{references, Reference};
use crate::layers::tree::Tree;

/// What the checks found in one root.
#[derive(Debug, Default)]
pub struct Findings {
    /// The modules below the root.
    pub modules: usize,
    /// The root's layer order, if it states one.
    pub order: Option<Order>,
    /// A module missing from the order, listed twice, or listed and not declared.
    pub listing: Vec<String>,
    /// Imports that point up the order.
    pub upward: Vec<String>,
    /// Names used through the root.
    pub through_root: Vec<String>,
    /// Import circles.
    pub circles: Vec<String>,
}

impl Findings {
    /// Every violation, one line each.
    pub fn violations(&self) -> impl Iterator<Item = &String> {
        self.listing
            .iter()
            .chain(&self.upward)
            .chain(&self.through_root)
            .chain(&self.circles)
    }

    /// The one-line summary (`17 modules, order ok, no circle`).
    pub fn summary(&self) -> String {
        let mut order: Vec<String> = [
            (self.upward.len(), "upward import(s)"),
            (self.through_root.len(), "use(s) of the root's items"),
            (self.listing.len(), "layer order listing problem(s)"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if order.is_empty() {
            order.push(match self.order {
                Some(_) => "order ok".to_owned(),
                None => "no layer order needed".to_owned(),
            });
        }
        let circles = match self.circles.len() {
            0 => "no circle".to_owned(),
            n => format!("{n} circle(s)"),
        };
        let modules = match self.modules {
            1 => "1 module".to_owned(),
            n => format!("{n} modules"),
        };
        format!("{modules}, {}, {circles}", order.join(", "))
    }
}

/// Checks `tree`; `show` names a file of it in messages.
pub fn check(tree: &Tree, show: &dyn Fn(usize) -> String) -> Findings {
    let references = references(tree);
    let mut findings = Findings {
        modules: tree.modules.len() - 1,
        order: order::parse(&tree.root_text),
        ..Findings::default()
    };
    listing(tree, &mut findings, &show(0));
    arrows(tree, &references, &mut findings, show);
    through_root(tree, &references, &mut findings, show);
    circles(tree, &references, &mut findings, show);
    findings
}

fn listing(tree: &Tree, findings: &mut Findings, root: &str) {
    let required: Vec<&str> = tree
        .declared
        .iter()
        .filter(|(_, test)| !test)
        .map(|(name, _)| name.as_str())
        .collect();
    let declared: BTreeSet<&str> = tree.declared.iter().map(|(n, _)| n.as_str()).collect();
    let out = &mut findings.listing;
    let Some(order) = &findings.order else {
        if required.len() >= 2 {
            out.push(format!(
                "{root}: declares {} modules ({}) but states no layer order (a `// Layer order` \
                 comment block listing them, the top one using those below it)",
                required.len(),
                required.join(", ")
            ));
        }
        return;
    };
    if order.names.is_empty() {
        out.push(format!(
            "{root}: the layer order (line {}) lists no module",
            order.line
        ));
    }
    for name in &required {
        if order.position(name).is_none() {
            out.push(format!(
                "{root}: module {name} is not in the layer order (line {})",
                order.line
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for name in &order.names {
        if !seen.insert(name) {
            out.push(format!("{root}: the layer order lists {name} twice"));
        } else if !declared.contains(name.as_str()) {
            out.push(format!(
                "{root}: the layer order lists {name}, which is not a module of the root"
            ));
        }
    }
}

fn arrows(
    tree: &Tree,
    references: &[Reference],
    findings: &mut Findings,
    show: &dyn Fn(usize) -> String,
) {
    let Some(order) = &findings.order else {
        return;
    };
    let mut seen = BTreeSet::new();
    for r in references {
        let (Some(a), Some(b)) = (
            tree.modules[r.from].path.first(),
            tree.modules[r.target].path.first(),
        ) else {
            continue;
        };
        let (Some(at_a), Some(at_b)) = (order.position(a), order.position(b)) else {
            continue;
        };
        let file = tree.modules[r.from].file;
        if at_b < at_a && seen.insert((file, a, b)) {
            findings.upward.push(format!(
                "{}: {a} -> {b} points up the layer order ({b} is above {a}): {}",
                show(file),
                r.written
            ));
        }
    }
}

fn through_root(
    tree: &Tree,
    references: &[Reference],
    findings: &mut Findings,
    show: &dyn Fn(usize) -> String,
) {
    let root_items = root_items(tree);
    let mut seen = BTreeSet::new();
    for r in references {
        let file = tree.modules[r.from].file;
        let Some(item) = &r.item else {
            continue;
        };
        if r.target != 0 || file == 0 || !seen.insert((file, &r.written)) {
            continue;
        }
        let message = match root_items.get(item.as_str()) {
            Some(Some(source)) => format!(
                "uses {} through the root's re-exports; import it from the module that defines it ({source})",
                r.written
            ),
            Some(None) => format!(
                "uses {}, an item the root defines; the root declares modules and re-exports: \
                 move it into a module and import it from there",
                r.written
            ),
            None => format!(
                "uses {} through the root's re-exports; import it from the module that defines it",
                r.written
            ),
        };
        findings
            .through_root
            .push(format!("{}: {message}", show(file)));
    }
}

/// The names the root defines (none) or re-exports (the path re-exported).
fn root_items(tree: &Tree) -> BTreeMap<String, Option<String>> {
    fn uses(tree: &UseTree, prefix: &mut Vec<String>, out: &mut BTreeMap<String, Option<String>>) {
        match tree {
            UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                uses(&p.tree, prefix, out);
                prefix.pop();
            }
            UseTree::Name(n) => {
                let path = [prefix.join("::"), n.ident.to_string()].join("::");
                out.insert(n.ident.to_string(), Some(path));
            }
            UseTree::Rename(r) => {
                let path = [prefix.join("::"), r.ident.to_string()].join("::");
                out.insert(r.rename.to_string(), Some(path));
            }
            UseTree::Glob(_) => {}
            UseTree::Group(g) => {
                for tree in &g.items {
                    uses(tree, prefix, out);
                }
            }
        }
    }
    let root = &tree.modules[0];
    let mut out = BTreeMap::new();
    for item in &root.items {
        let name = match item {
            Item::Use(u) => {
                let mut prefix = Vec::new();
                if let UseTree::Path(p) = &u.tree {
                    if root.children.contains(&p.ident.to_string()) {
                        prefix.push("crate".to_owned());
                    }
                }
                uses(&u.tree, &mut prefix, &mut out);
                continue;
            }
            Item::Const(i) => &i.ident,
            Item::Enum(i) => &i.ident,
            Item::Fn(i) => &i.sig.ident,
            Item::Static(i) => &i.ident,
            Item::Struct(i) => &i.ident,
            Item::Trait(i) => &i.ident,
            Item::Type(i) => &i.ident,
            Item::Union(i) => &i.ident,
            Item::Macro(i) => match &i.ident {
                Some(ident) => ident,
                None => continue,
            },
            _ => continue,
        };
        out.insert(name.to_string(), None);
    }
    out
}

fn circles(
    tree: &Tree,
    references: &[Reference],
    findings: &mut Findings,
    show: &dyn Fn(usize) -> String,
) {
    let n = tree.modules.len();
    // An edge per pair of modules, with the first reference that makes it.
    let mut edges: BTreeMap<(usize, usize), &Reference> = BTreeMap::new();
    for r in references {
        if r.from != r.target && r.from != 0 && r.target != 0 {
            edges.entry((r.from, r.target)).or_insert(r);
        }
    }
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edges.keys() {
        next[a].push(b);
    }
    for component in strongly_connected(&next) {
        if component.len() < 2 {
            continue;
        }
        let inside: BTreeSet<usize> = component.iter().copied().collect();
        let start = *component
            .iter()
            .min_by_key(|&&m| tree.name(m))
            .expect("a component");
        let cycle = shortest_cycle(&next, &inside, start);
        let names: Vec<String> = cycle.iter().map(|&m| tree.name(m)).collect();
        let uses: Vec<String> = cycle
            .windows(2)
            .map(|pair| {
                let r = edges[&(pair[0], pair[1])];
                format!("{}: {}", show(tree.modules[pair[0]].file), r.written)
            })
            .collect();
        findings.circles.push(format!(
            "{}: import circle {} ({})",
            show(0),
            names.join(" -> "),
            uses.join("; ")
        ));
    }
}

/// The strongly connected components of the graph (Tarjan's, iterative).
fn strongly_connected(next: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = next.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut counter = 0;
    let mut out = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&(v, edge)) = work.last() {
            if let Some(&w) = next[v].get(edge) {
                if let Some(top) = work.last_mut() {
                    top.1 += 1;
                }
                if index[w] == usize::MAX {
                    index[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(component);
            }
        }
    }
    out
}

/// A shortest cycle through `start` inside `inside`: `[start, ..., start]`.
fn shortest_cycle(next: &[Vec<usize>], inside: &BTreeSet<usize>, start: usize) -> Vec<usize> {
    let mut came_from: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &next[v] {
            if w == start {
                let mut cycle = vec![start, v];
                let mut at = v;
                while at != start {
                    at = came_from[&at];
                    cycle.push(at);
                }
                cycle.reverse();
                return cycle;
            }
            if inside.contains(&w) && !came_from.contains_key(&w) {
                came_from.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    vec![start, start]
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::layers::tree::{memory, read};

    const ORDER: &str =
        "// Layer order (`cargo xtask layers` checks it): each module uses only the\n\
        // modules listed below it; none uses the root's re-exports.\n\
        //\n\
        //   client      Client\n\
        //   cards       the request builders\n\
        //   call        one logical call\n\
        //   error       Error\n";

    fn findings(files: &[(&str, &str)]) -> Findings {
        let tree = read(Path::new("src/lib.rs"), &memory(files)).unwrap();
        check(&tree, &|file| tree.files[file].display().to_string())
    }

    fn crate_with(root_extra: &str, files: &[(&str, &str)]) -> Findings {
        let root = format!(
            "//! A crate.\n\n{ORDER}mod call;\nmod cards;\nmod client;\nmod error;\n\n\
             pub use client::Client;\npub use error::Error;\n{root_extra}"
        );
        let mut all = vec![
            ("src/lib.rs", root.as_str()),
            ("src/client.rs", "use crate::cards::Cards;\nuse crate::error::Error;\npub struct Client;"),
            ("src/cards.rs", "mod assign;\npub struct Cards;\npub use self::assign::Assign;"),
            ("src/cards/assign.rs", "use crate::call::{Call, retry::{self, Policy}};\npub struct Assign;"),
            ("src/call.rs", "pub mod retry;\nuse super::error;\npub fn f() -> error::Error { todo!() }"),
            ("src/call/retry.rs", "pub struct Policy;\nfn f() { tracing::info!(\"{}\", crate::error::CODE); }"),
            ("src/error.rs", "pub struct Error;\npub const CODE: u8 = 1;\n#[cfg(test)] mod tests { use crate::Client; }"),
        ];
        for (path, text) in files {
            match all.iter_mut().find(|(p, _)| p == path) {
                Some(slot) => slot.1 = text,
                None => all.push((path, text)),
            }
        }
        findings(&all)
    }

    #[test]
    fn a_good_tree_passes() {
        let found = crate_with("", &[]);
        assert_eq!(found.violations().count(), 0, "{found:#?}");
        assert_eq!(found.summary(), "6 modules, order ok, no circle");
    }

    #[test]
    fn an_upward_import_fails() {
        let found = crate_with(
            "",
            &[("src/call.rs", "use crate::client::Client;\npub mod retry;")],
        );
        assert_eq!(
            found.upward,
            ["src/call.rs: call -> client points up the layer order (client is above call): crate::client::Client"]
        );
        // Grouped, through super::, and in a macro alike.
        let found = crate_with(
            "",
            &[(
                "src/call/retry.rs",
                "use crate::{error::Error, cards::{self, Cards}};\n\
                 fn f() -> super::super::client::Client { todo!() }\n\
                 fn g() { println!(\"{}\", crate::cards::assign::NAME); }",
            )],
        );
        assert_eq!(
            found.upward,
            [
                "src/call/retry.rs: call -> cards points up the layer order (cards is above call): crate::cards",
                "src/call/retry.rs: call -> client points up the layer order (client is above call): super::super::client::Client",
            ]
        );
        // (cards::assign uses call::retry, which now uses cards: a circle too.)
        assert_eq!(
            found.summary(),
            "6 modules, 2 upward import(s), 1 circle(s)"
        );
    }

    #[test]
    fn a_use_through_the_root_fails() {
        let found = crate_with(
            "pub fn helper() {}\n",
            &[(
                "src/cards/assign.rs",
                "use crate::Error;\nuse crate::call::Call;\nfn f() { crate::helper(); }\npub struct Assign;",
            )],
        );
        assert_eq!(
            found.through_root,
            [
                "src/cards/assign.rs: uses crate::Error through the root's re-exports; import it \
                 from the module that defines it (crate::error::Error)",
                "src/cards/assign.rs: uses crate::helper, an item the root defines; the root \
                 declares modules and re-exports: move it into a module and import it from there",
            ]
        );
        // From a top-level module, `super::` is the root too.
        let found = crate_with("", &[("src/call.rs", "use super::Error;\npub mod retry;")]);
        assert_eq!(found.through_root.len(), 1, "{found:#?}");
        assert!(found.through_root[0].starts_with("src/call.rs: uses super::Error through"));
    }

    #[test]
    fn an_import_circle_fails() {
        // A parent that uses its child, whose child uses the parent.
        let found = crate_with(
            "",
            &[(
                "src/cards/assign.rs",
                "use crate::call::Call;\nuse super::Cards;\npub struct Assign;",
            )],
        );
        assert_eq!(
            found.circles,
            ["src/lib.rs: import circle cards -> cards::assign -> cards \
              (src/cards.rs: self::assign::Assign; src/cards/assign.rs: super::Cards)"]
        );
        assert_eq!(found.upward, Vec::<String>::new());
        // Three modules round, each in a layer of its own order.
        let found = crate_with(
            "",
            &[
                ("src/call.rs", "pub mod retry;\nuse self::retry::Policy;"),
                (
                    "src/call/retry.rs",
                    "use crate::error::Error;\npub struct Policy;",
                ),
                ("src/error.rs", "use crate::call::f;\npub struct Error;"),
            ],
        );
        assert_eq!(found.circles.len(), 1, "{found:#?}");
        assert!(
            found.circles[0].contains("call -> call::retry -> error -> call"),
            "{found:#?}"
        );
        assert_eq!(
            found.summary(),
            "6 modules, 1 upward import(s), 1 circle(s)"
        );
    }

    #[test]
    fn the_order_lists_each_module_once() {
        let found = findings(&[
            (
                "src/lib.rs",
                "// Layer order:\n//\n//   a\n//   b\n//   a\n//   ghost\nmod a;\nmod b;\nmod c;\n\
                 #[cfg(test)]\nmod tests;",
            ),
            ("src/a.rs", ""),
            ("src/b.rs", ""),
            ("src/c.rs", ""),
        ]);
        assert_eq!(
            found.listing,
            [
                "src/lib.rs: module c is not in the layer order (line 1)",
                "src/lib.rs: the layer order lists a twice",
                "src/lib.rs: the layer order lists ghost, which is not a module of the root",
            ]
        );
        let found = findings(&[("src/lib.rs", "mod a;\nmod b { }\n"), ("src/a.rs", "")]);
        assert_eq!(
            found.listing,
            ["src/lib.rs: declares 2 modules (a, b) but states no layer order (a `// Layer order` \
              comment block listing them, the top one using those below it)"]
        );
        let found = findings(&[("src/lib.rs", "mod a;\n"), ("src/a.rs", "use crate::X;")]);
        assert_eq!(found.listing, Vec::<String>::new());
        assert_eq!(
            found.summary(),
            "1 module, 1 use(s) of the root's items, no circle"
        );
        let found = findings(&[("src/lib.rs", "fn main() {}")]);
        assert_eq!(
            found.summary(),
            "0 modules, no layer order needed, no circle"
        );
    }
}
