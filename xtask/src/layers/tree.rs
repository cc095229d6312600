//! A crate's module tree, read from its root file: every module (declared
//! `mod m;` in its file, `m.rs` + `m/` or `m/mod.rs`, `#[path]` if any, or
//! inline `mod m { ... }`), the file it is in, and the items it holds
//! besides its modules. Items under `#[cfg(test)]` (and `#[test]`
//! functions) are left out: test code is not in the layers.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};

use syn::{Attribute, Expr, Item, Lit, Meta};

/// Where the files come from: the disk, or (in tests) memory.
pub trait Source {
    /// The text of the file at `path`.
    fn read(&self, path: &Path) -> io::Result<String>;
}

/// The files on the disk.
pub struct Disk;

impl Source for Disk {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// A file that cannot be read or parsed, or a module whose file is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

/// One module of the tree.
pub struct Module {
    /// Its path below the crate root (`["cards", "assign"]`; empty: the root).
    pub path: Vec<String>,
    /// The file it is in (an index into [`Tree::files`]).
    pub file: usize,
    /// The names of the modules it declares.
    pub children: BTreeSet<String>,
    /// Its items, without its modules and its test code.
    pub items: Vec<Item>,
}

/// A crate's modules (the root first) and their files.
pub struct Tree {
    pub modules: Vec<Module>,
    /// Every file read, the root's first.
    pub files: Vec<PathBuf>,
    /// The root's text (where its layer order is written).
    pub root_text: String,
    /// The root's own `mod` items: name, and whether only test code declares it.
    pub declared: Vec<(String, bool)>,
    index: HashMap<Vec<String>, usize>,
}

impl Tree {
    /// The module at `path`, if there is one.
    pub fn find(&self, path: &[String]) -> Option<usize> {
        self.index.get(path).copied()
    }

    /// The module's name as written in messages (`cards::assign`; `crate`).
    pub fn name(&self, module: usize) -> String {
        match self.modules[module].path.as_slice() {
            [] => "crate".to_owned(),
            path => path.join("::"),
        }
    }
}

/// Whether the attributes make an item test code: `#[cfg(test)]`,
/// `#[cfg(all(test, ...))]`, `#[test]`.
pub fn is_test(attrs: &[Attribute]) -> bool {
    fn requires_test(meta: &Meta) -> bool {
        match meta {
            Meta::Path(path) => path.is_ident("test"),
            Meta::List(list) if list.path.is_ident("all") => list
                .parse_args_with(
                    syn::punctuated::Punctuated::<Meta, syn::Token![,]>::parse_terminated,
                )
                .is_ok_and(|metas| metas.iter().any(requires_test)),
            _ => false,
        }
    }
    attrs.iter().any(|attr| {
        attr.path().is_ident("test")
            || (attr.path().is_ident("cfg")
                && attr
                    .parse_args::<Meta>()
                    .is_ok_and(|meta| requires_test(&meta)))
    })
}

/// The attributes of an item.
pub fn attrs_of(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// `#[path = "..."]`.
fn path_attr(attrs: &[Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| match &attr.meta {
        Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            Expr::Lit(lit) => match &lit.lit {
                Lit::Str(text) => Some(text.value()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    })
}

/// Reads the tree of the crate whose root file is `root`.
pub fn read(root: &Path, source: &dyn Source) -> Result<Tree, Unreadable> {
    let root_text = source
        .read(root)
        .map_err(|e| Unreadable(format!("cannot read {}: {e}", root.display())))?;
    let file = syn::parse_file(&root_text)
        .map_err(|e| Unreadable(format!("{} does not parse: {e}", root.display())))?;
    let declared = file
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Mod(m) => Some((m.ident.to_string(), is_test(&m.attrs))),
            _ => None,
        })
        .collect();
    let dir = root.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut reader = Reader {
        source,
        tree: Tree {
            modules: Vec::new(),
            files: vec![root.to_path_buf()],
            root_text: String::new(),
            declared,
            index: HashMap::new(),
        },
    };
    reader.module(Vec::new(), 0, file.items, &dir, &dir)?;
    reader.tree.root_text = root_text;
    Ok(reader.tree)
}

struct Reader<'a> {
    source: &'a dyn Source,
    tree: Tree,
}

impl Reader<'_> {
    /// Adds the module at `path`, in file `file`, holding `items`: its child
    /// modules' files are in `dir` (`#[path]`s are relative to `path_base`).
    fn module(
        &mut self,
        path: Vec<String>,
        file: usize,
        items: Vec<Item>,
        dir: &Path,
        path_base: &Path,
    ) -> Result<usize, Unreadable> {
        let id = self.tree.modules.len();
        self.tree.index.insert(path.clone(), id);
        self.tree.modules.push(Module {
            path: path.clone(),
            file,
            children: BTreeSet::new(),
            items: Vec::new(),
        });
        let mut own = Vec::new();
        for item in items {
            if is_test(attrs_of(&item)) {
                continue;
            }
            let Item::Mod(m) = item else {
                own.push(item);
                continue;
            };
            let name = m.ident.to_string();
            let name = name.strip_prefix("r#").unwrap_or(&name).to_owned();
            let mut child = path.clone();
            child.push(name.clone());
            let child_dir = dir.join(&name);
            let added = match m.content {
                Some((_, content)) => {
                    Some(self.module(child, file, content, &child_dir, &child_dir)?)
                }
                None => {
                    let (found, mod_rs) = match path_attr(&m.attrs) {
                        Some(p) => (self.find_file(&[path_base.join(p)])?, true),
                        None => {
                            let flat = dir.join(format!("{name}.rs"));
                            let nested = child_dir.join("mod.rs");
                            match self.find_file(&[flat.clone(), nested])? {
                                Some((at, text)) => {
                                    let mod_rs = at != flat;
                                    (Some((at, text)), mod_rs)
                                }
                                None => (None, false),
                            }
                        }
                    };
                    match found {
                        Some((at, text)) => Some(self.file_module(child, at, &text, mod_rs)?),
                        // A module under a `cfg` may have no file where that
                        // cfg is off; any other is a broken tree.
                        None if m.attrs.iter().any(|a| a.path().is_ident("cfg")) => None,
                        None => {
                            return Err(Unreadable(format!(
                                "{}: no file for module `{name}` (looked for {name}.rs and {name}/mod.rs in {})",
                                self.tree.files[file].display(),
                                dir.display()
                            )))
                        }
                    }
                }
            };
            if added.is_some() {
                self.tree.modules[id].children.insert(name);
            }
        }
        self.tree.modules[id].items = own;
        Ok(id)
    }

    /// Reads and adds the module `path` whose file is `at`.
    fn file_module(
        &mut self,
        path: Vec<String>,
        at: PathBuf,
        text: &str,
        mod_rs: bool,
    ) -> Result<usize, Unreadable> {
        if self.tree.files.contains(&at) {
            return Err(Unreadable(format!(
                "{} is the file of two modules",
                at.display()
            )));
        }
        let parsed = syn::parse_file(text)
            .map_err(|e| Unreadable(format!("{} does not parse: {e}", at.display())))?;
        let parent = at.parent().unwrap_or(Path::new("")).to_path_buf();
        let dir = if mod_rs {
            parent.clone()
        } else {
            let stem = at.file_stem().unwrap_or_default();
            parent.join(stem)
        };
        let file = self.tree.files.len();
        self.tree.files.push(at);
        self.module(path, file, parsed.items, &dir, &parent)
    }

    /// The first of `candidates` that exists, with its text.
    fn find_file(&self, candidates: &[PathBuf]) -> Result<Option<(PathBuf, String)>, Unreadable> {
        for candidate in candidates {
            match self.source.read(candidate) {
                Ok(text) => return Ok(Some((candidate.clone(), text))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Unreadable(format!(
                        "cannot read {}: {e}",
                        candidate.display()
                    )))
                }
            }
        }
        Ok(None)
    }
}

/// A crate in memory, for the tests: (path, text) of each file.
#[cfg(test)]
pub fn memory(files: &[(&str, &str)]) -> std::collections::BTreeMap<PathBuf, String> {
    files
        .iter()
        .map(|(path, text)| (PathBuf::from(path), (*text).to_owned()))
        .collect()
}

#[cfg(test)]
impl Source for std::collections::BTreeMap<PathBuf, String> {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.get(path)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modules(tree: &Tree) -> Vec<(String, String)> {
        tree.modules
            .iter()
            .enumerate()
            .map(|(id, m)| (tree.name(id), tree.files[m.file].display().to_string()))
            .collect()
    }

    #[test]
    fn every_way_of_declaring_a_module() {
        let files = memory(&[
            (
                "src/lib.rs",
                "mod flat; mod nested; #[path = \"elsewhere/p.rs\"] mod pathed;\n\
                 mod inline { mod deep; }\n#[cfg(test)] mod tests;\n\
                 #[cfg(feature = \"off\")] mod absent;\nfn f() {}",
            ),
            ("src/flat.rs", "mod child;"),
            ("src/flat/child.rs", "pub struct A;"),
            ("src/nested/mod.rs", "mod child;"),
            ("src/nested/child.rs", ""),
            ("src/elsewhere/p.rs", "mod q;"),
            ("src/elsewhere/q.rs", ""),
            ("src/inline/deep.rs", ""),
        ]);
        let tree = read(Path::new("src/lib.rs"), &files).unwrap();
        assert_eq!(
            modules(&tree),
            [
                ("crate", "src/lib.rs"),
                ("flat", "src/flat.rs"),
                ("flat::child", "src/flat/child.rs"),
                ("nested", "src/nested/mod.rs"),
                ("nested::child", "src/nested/child.rs"),
                ("pathed", "src/elsewhere/p.rs"),
                ("pathed::q", "src/elsewhere/q.rs"),
                ("inline", "src/lib.rs"),
                ("inline::deep", "src/inline/deep.rs"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        // The test module is declared (it may be listed) but not read; the
        // module whose cfg is off has no file and is no module of the tree.
        assert_eq!(
            tree.declared,
            [
                ("flat", false),
                ("nested", false),
                ("pathed", false),
                ("inline", false),
                ("tests", true),
                ("absent", false)
            ]
            .map(|(n, t)| (n.to_owned(), t))
        );
        assert_eq!(tree.modules[0].items.len(), 1, "fn f, without the modules");
        assert_eq!(tree.find(&["flat".into(), "child".into()]), Some(2));
    }

    #[test]
    fn test_code_is_left_out() {
        let files = memory(&[(
            "src/lib.rs",
            "fn a() {}\n#[cfg(test)] fn b() {}\n#[cfg(all(test, unix))] fn c() {}\n\
             #[test] fn d() {}\n#[cfg(any(test, unix))] fn e() {}\n#[cfg(not(test))] fn f() {}",
        )]);
        let tree = read(Path::new("src/lib.rs"), &files).unwrap();
        let names: Vec<String> = tree.modules[0]
            .items
            .iter()
            .map(|item| match item {
                Item::Fn(f) => f.sig.ident.to_string(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(names, ["a", "e", "f"]);
    }

    #[test]
    fn a_broken_tree_is_unreadable() {
        let missing = memory(&[("src/lib.rs", "mod gone;")]);
        let err = read(Path::new("src/lib.rs"), &missing).err().unwrap();
        assert_eq!(
            err.0,
            "src/lib.rs: no file for module `gone` (looked for gone.rs and gone/mod.rs in src)"
        );
        let broken = memory(&[("src/lib.rs", "mod a;"), ("src/a.rs", "fn (")]);
        let err = read(Path::new("src/lib.rs"), &broken).err().unwrap();
        assert!(err.0.starts_with("src/a.rs does not parse: "), "{}", err.0);
        let twice = memory(&[
            ("src/lib.rs", "mod a; #[path = \"a.rs\"] mod b;"),
            ("src/a.rs", ""),
        ]);
        let err = read(Path::new("src/lib.rs"), &twice).err().unwrap();
        assert_eq!(err.0, "src/a.rs is the file of two modules");
        assert!(read(Path::new("src/none.rs"), &twice).is_err());
    }
}
