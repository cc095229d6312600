//! The paths by which a module reaches other modules of its crate, and the
//! module each leads into.
//!
//! Collected in every item of a module (test code left out): `use` trees
//! (grouped ones expanded: `use crate::{a::B, c::{D, E}}` is three paths),
//! paths in types, expressions, patterns and trait bounds, and `crate ::
//! name` sequences (also `super ::`, `self ::`, and `$crate ::`) in the
//! tokens of macro invocations. A path counts when it starts with `crate`,
//! `super` or `self`, or with the name of a module the using module
//! declares (`pub use assign::AssignCard` in `cards`); `pub(in ...)`
//! visibilities, attributes, and the tokens of `quote!` and `parse_quote!`
//! (code as data, for another crate) are not uses. Each is resolved to the
//! longest prefix that is a module of the tree; a glob (`use super::*`)
//! uses that module's items.

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;
use syn::{ImplItem, Item, TraitItem, UseTree};

use crate::layers::tree::{attrs_of, is_test, Tree};

/// A path from one module into another (or into its own items).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The using module.
    pub from: usize,
    /// The module the path leads into: the longest module prefix.
    pub target: usize,
    /// The first name past that module (none: the path names the module).
    pub item: Option<String>,
    /// The path as written (`crate::client::Client`, `super::Error`).
    pub written: String,
}

/// Every reference of every module of `tree`, in module order.
pub fn references(tree: &Tree) -> Vec<Reference> {
    let mut out = Vec::new();
    for (from, module) in tree.modules.iter().enumerate() {
        let mut collector = Collector::default();
        for item in &module.items {
            collector.visit_item(item);
        }
        for (segments, in_use) in collector.paths {
            if let Some(reference) = resolve(tree, from, &segments, in_use) {
                out.push(reference);
            }
        }
    }
    out
}

/// Resolves `segments`, used in module `from` (`in_use`: in a `use` tree,
/// where a lone name can only be a module or an item).
fn resolve(tree: &Tree, from: usize, segments: &[String], in_use: bool) -> Option<Reference> {
    let module = &tree.modules[from];
    let first = segments.first()?;
    let (mut base, rest) = match first.as_str() {
        "crate" => (Vec::new(), &segments[1..]),
        "self" | "super" => {
            let mut base = module.path.clone();
            let mut i = 0;
            while let Some(word) = segments.get(i) {
                match word.as_str() {
                    "self" => {}
                    "super" => {
                        base.pop()?;
                    }
                    _ => break,
                }
                i += 1;
            }
            (base, &segments[i..])
        }
        name if module.children.contains(name) && (in_use || segments.len() > 1) => {
            let mut base = module.path.clone();
            base.push(name.to_owned());
            (base, &segments[1..])
        }
        _ => return None,
    };
    let mut target = tree.find(&base)?;
    let mut taken = 0;
    for name in rest {
        base.push(name.clone());
        match tree.find(&base) {
            Some(module) => {
                target = module;
                taken += 1;
            }
            None => break,
        }
    }
    Some(Reference {
        from,
        target,
        item: rest.get(taken).cloned(),
        written: segments.join("::"),
    })
}

/// The paths of the items visited: (segments, whether in a `use` tree).
#[derive(Default)]
struct Collector {
    paths: Vec<(Vec<String>, bool)>,
}

fn ident(ident: &proc_macro2::Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
}

impl Collector {
    fn use_tree(&mut self, tree: &UseTree, prefix: &mut Vec<String>) {
        match tree {
            UseTree::Path(path) => {
                prefix.push(ident(&path.ident));
                self.use_tree(&path.tree, prefix);
                prefix.pop();
            }
            UseTree::Name(name) => self.use_name(prefix, &name.ident),
            UseTree::Rename(rename) => self.use_name(prefix, &rename.ident),
            UseTree::Glob(_) => {
                let mut path = prefix.clone();
                path.push("*".to_owned());
                self.paths.push((path, true));
            }
            UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(tree, prefix);
                }
            }
        }
    }

    fn use_name(&mut self, prefix: &[String], name: &proc_macro2::Ident) {
        let mut path = prefix.to_vec();
        if name != "self" || path.is_empty() {
            path.push(ident(name));
        }
        self.paths.push((path, true));
    }

    /// `crate :: a :: b` (and `super ::`, `self ::`, `$crate ::`) in tokens.
    fn tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(group) => self.tokens(group.stream()),
                TokenTree::Ident(word)
                    if (word == "crate" || word == "super" || word == "self")
                        && colons(&tokens, i + 1) =>
                {
                    let mut path = vec![word.to_string()];
                    let mut j = i + 1;
                    while colons(&tokens, j) {
                        let Some(TokenTree::Ident(next)) = tokens.get(j + 2) else {
                            break;
                        };
                        path.push(ident(next));
                        j += 3;
                    }
                    if path.len() > 1 {
                        self.paths.push((path, false));
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

/// Whether `tokens[at..]` starts with `::`.
fn colons(tokens: &[TokenTree], at: usize) -> bool {
    matches!(
        (tokens.get(at), tokens.get(at + 1)),
        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
            if a.as_char() == ':' && b.as_char() == ':' && a.spacing() == proc_macro2::Spacing::Joint
    )
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item(&mut self, item: &'ast Item) {
        if is_test(attrs_of(item)) {
            return;
        }
        match item {
            // A module inside a function body is no module of the tree.
            Item::Mod(_) => {}
            Item::Use(item) if item.leading_colon.is_none() => {
                self.use_tree(&item.tree, &mut Vec::new());
            }
            Item::Use(_) => {}
            item => syn::visit::visit_item(self, item),
        }
    }

    fn visit_impl_item(&mut self, item: &'ast ImplItem) {
        let attrs = match item {
            ImplItem::Const(i) => &i.attrs,
            ImplItem::Fn(i) => &i.attrs,
            ImplItem::Type(i) => &i.attrs,
            ImplItem::Macro(i) => &i.attrs,
            _ => return syn::visit::visit_impl_item(self, item),
        };
        if !is_test(attrs) {
            syn::visit::visit_impl_item(self, item);
        }
    }

    fn visit_trait_item(&mut self, item: &'ast TraitItem) {
        let attrs = match item {
            TraitItem::Const(i) => &i.attrs,
            TraitItem::Fn(i) => &i.attrs,
            TraitItem::Type(i) => &i.attrs,
            TraitItem::Macro(i) => &i.attrs,
            _ => return syn::visit::visit_trait_item(self, item),
        };
        if !is_test(attrs) {
            syn::visit::visit_trait_item(self, item);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() && !path.segments.is_empty() {
            let segments: Vec<String> = path.segments.iter().map(|s| ident(&s.ident)).collect();
            self.paths.push((segments, false));
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        // `quote!` and `parse_quote!` hold code as data: the code of another
        // crate (the generator's output), not paths of this one.
        let data = mac.path.segments.last().is_some_and(|s| {
            [
                "quote",
                "quote_spanned",
                "parse_quote",
                "parse_quote_spanned",
            ]
            .iter()
            .any(|name| s.ident == name)
        });
        if !data {
            self.tokens(mac.tokens.clone());
        }
    }

    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::layers::tree::{memory, read};

    /// (from, target, item, as written) of every reference between modules.
    fn found(files: &[(&str, &str)]) -> Vec<(String, String, Option<String>, String)> {
        let tree = read(Path::new("src/lib.rs"), &memory(files)).unwrap();
        references(&tree)
            .into_iter()
            .filter(|r| r.from != r.target)
            .map(|r| (tree.name(r.from), tree.name(r.target), r.item, r.written))
            .collect()
    }

    fn r(
        from: &str,
        target: &str,
        item: Option<&str>,
        written: &str,
    ) -> (String, String, Option<String>, String) {
        (
            from.into(),
            target.into(),
            item.map(Into::into),
            written.into(),
        )
    }

    #[test]
    fn use_trees_grouped_and_nested() {
        let refs = found(&[
            ("src/lib.rs", "mod a; mod b; mod c;"),
            (
                "src/a.rs",
                "use crate::{b::B, c::{self, C, D as E}};\nuse crate::b::*;\nuse std::fmt;",
            ),
            ("src/b.rs", ""),
            ("src/c.rs", ""),
        ]);
        assert_eq!(
            refs,
            [
                r("a", "b", Some("B"), "crate::b::B"),
                r("a", "c", None, "crate::c"),
                r("a", "c", Some("C"), "crate::c::C"),
                r("a", "c", Some("D"), "crate::c::D"),
                r("a", "b", Some("*"), "crate::b::*"),
            ]
        );
    }

    #[test]
    fn super_self_and_child_names() {
        let refs = found(&[
            ("src/lib.rs", "mod client; mod cards;"),
            ("src/client.rs", ""),
            (
                "src/cards.rs",
                "mod assign; pub use assign::Assign; fn f() { self::assign::g(); }",
            ),
            (
                "src/cards/assign.rs",
                "use super::Shared;\nfn g() -> super::super::client::Client { todo!() }\n\
                 fn h(assign: u8) -> u8 { assign }",
            ),
        ]);
        assert_eq!(
            refs,
            [
                r("cards", "cards::assign", Some("Assign"), "assign::Assign"),
                r("cards", "cards::assign", Some("g"), "self::assign::g"),
                r("cards::assign", "cards", Some("Shared"), "super::Shared"),
                r(
                    "cards::assign",
                    "client",
                    Some("Client"),
                    "super::super::client::Client"
                ),
            ]
        );
    }

    #[test]
    fn paths_in_types_expressions_patterns_and_macros() {
        let refs = found(&[
            ("src/lib.rs", "mod a; mod b;"),
            (
                "src/a.rs",
                "fn f(x: Vec<crate::b::T>) -> impl crate::b::Tr {\n\
                     let crate::b::P(y) = crate::b::make();\n\
                     println!(\"{}\", crate::b::NAME);\n\
                     assert!(matches!(x, crate :: b :: E::V));\n\
                     quote::quote! { crate::b::Generated };\n\
                 }\n\
                 macro_rules! m { () => { $crate::b::M } }\n\
                 pub(in crate::a) struct S(#[serde(with = \"crate::b\")] u8);",
            ),
            ("src/b.rs", ""),
        ]);
        let written: Vec<&str> = refs.iter().map(|r| r.3.as_str()).collect();
        assert_eq!(
            written,
            [
                "crate::b::T",
                "crate::b::Tr",
                "crate::b::P",
                "crate::b::make",
                "crate::b::NAME",
                "crate::b::E::V",
                "crate::b::M",
            ]
        );
    }

    #[test]
    fn test_code_has_no_references() {
        let refs = found(&[
            ("src/lib.rs", "mod a; mod b;"),
            (
                "src/a.rs",
                "#[cfg(test)] mod tests { use crate::b::X; }\n\
                 #[cfg(test)] fn helper() { crate::b::y(); }\n\
                 struct S; impl S { #[cfg(test)] fn t() { crate::b::z(); } }",
            ),
            ("src/b.rs", ""),
        ]);
        assert_eq!(refs, []);
    }
}
