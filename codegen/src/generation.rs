//! Generation: the spec, through progenitor and the spec's extensions, to
//! the formatted source of `generated.rs`; and the freshness check of the
//! checked-in file.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use progenitor::Generator;
use quote::quote;

use crate::extensions::{constraints, events, fast_types};
use crate::{load_spec, settings, Error, HEADER, OUTPUT_PATH, SPEC_PATH};

/// Generates the formatted source of the raw crate's `generated.rs` from a
/// parsed spec, header included.
pub fn generate(spec: &openapiv3::OpenAPI) -> Result<String, Error> {
    let mut generator = Generator::new(&settings(spec));
    let mut tokens = generator.generate_tokens(spec)?;
    tokens.extend(fast_types(spec).tokens);
    tokens.extend(constraints(spec));
    tokens.extend(events(spec)?);
    let mut file: syn::File = syn::parse2(split_doc_lines(tokens))?;
    strip_api_version(&mut file, spec)?;
    fast_request_parts(&mut file)?;
    one_header_map(&mut file, spec)?;
    lean_hooks(&mut file, spec)?;
    let pretty = prettyplease::unparse(&file);
    let formatted = rustfmt(&format!("{HEADER}\n{pretty}"))?;
    Ok(formatted)
}

/// Generates the source from the spec file at `path`.
pub fn generate_from_path(path: &Path) -> Result<String, Error> {
    generate(&load_spec(path)?)
}

/// Removes the `api-version` header progenitor adds to every request (from
/// `info.version`; it has no switch for it). UQPay documents no such
/// header, and every request would pay for building it and for a hook
/// removing it again. Fails if progenitor's output no longer has exactly
/// one per operation (so a progenitor change is noticed).
fn strip_api_version(file: &mut syn::File, spec: &openapiv3::OpenAPI) -> Result<(), Error> {
    use syn::visit_mut::VisitMut;

    struct Strip(usize);
    impl VisitMut for Strip {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            let before = block.stmts.len();
            block.stmts.retain(|stmt| {
                let syn::Stmt::Expr(syn::Expr::MethodCall(call), _) = stmt else {
                    return true;
                };
                let names_api_version = call.method == "append"
                    && call.args.first().is_some_and(|arg| {
                        quote::ToTokens::to_token_stream(arg)
                            .to_string()
                            .contains("\"api-version\"")
                    });
                !names_api_version
            });
            self.0 += before - block.stmts.len();
            syn::visit_mut::visit_block_mut(self, block);
        }
    }

    let operations = spec
        .paths
        .iter()
        .filter_map(|(_, item)| item.as_item())
        .map(|item| item.iter().count())
        .sum::<usize>();
    let mut strip = Strip(0);
    strip.visit_file_mut(file);
    if strip.0 != operations {
        return Err(Error::Unexpected(format!(
            "expected one api-version header per operation ({operations}) in progenitor's output, found {}",
            strip.0
        )));
    }
    Ok(())
}

/// Four rewrites of how progenitor's request code builds the parts of a
/// request, on every call, that the spec fixes at generation time (issue 19:
/// they were measurable in the per-call profile). The request stays built
/// by generated code, from the same parameters, to the same bytes:
///
/// - a UUID path parameter goes into the URL as it prints
///   (`encode_path(&id.to_string())` becomes `id`): a UUID's text is hex
///   digits and hyphens, which percent-encoding leaves as they are, so the
///   two extra strings per call bought nothing;
/// - a UUID header value is encoded into a stack buffer and copied once
///   (`HeaderValue::from_str(id.hyphenated().encode_lower(..))`) instead of
///   going through `to_string()` and `try_into()`;
/// - a header name is a constant (`const { HeaderName::from_static(..) }`,
///   checked at compile time) instead of a `&str` parsed on every call;
/// - an answer is read by `crate::hooks::from_response`, which takes the
///   answer's headers into the `ResponseValue` where progenitor's
///   `ResponseValue::from_response` copies them (the answer is consumed
///   right after: nothing reads the originals).
///
/// Fails if progenitor's output no longer has the shapes rewritten (each
/// UUID parameter in a path or a header, header names as strings), so a
/// progenitor change is noticed.
fn fast_request_parts(file: &mut syn::File) -> Result<(), Error> {
    use proc_macro2::{Delimiter, TokenStream, TokenTree};
    use syn::visit_mut::VisitMut;

    #[derive(Default)]
    struct Rewrite {
        /// The UUID parameters of the method being visited.
        uuids: Vec<String>,
        /// UUID parameters seen, rewritten in a path, rewritten in a header.
        seen: usize,
        paths: usize,
        values: usize,
        /// Header names made constants.
        names: usize,
        /// Answers read by `crate::hooks::from_response`.
        answers: usize,
    }

    /// `encode_path(&NAME.to_string())` -> `NAME`, for UUID `NAME`s.
    fn path_tokens(tokens: TokenStream, uuids: &[String], count: &mut usize) -> TokenStream {
        let mut out = Vec::new();
        let mut iter = tokens.into_iter().peekable();
        while let Some(tree) = iter.next() {
            if let TokenTree::Ident(ident) = &tree {
                if ident == "encode_path" {
                    if let Some(TokenTree::Group(group)) = iter.peek() {
                        let inner = compact(group.stream());
                        let uuid = (group.delimiter() == Delimiter::Parenthesis)
                            .then(|| {
                                uuids
                                    .iter()
                                    .find(|name| inner == format!("&{name}.to_string()"))
                            })
                            .flatten();
                        if let Some(name) = uuid {
                            iter.next();
                            out.push(TokenTree::Ident(proc_macro2::Ident::new(
                                name,
                                ident.span(),
                            )));
                            *count += 1;
                            continue;
                        }
                    }
                }
            }
            out.push(tree);
        }
        out.into_iter().collect()
    }

    impl VisitMut for Rewrite {
        fn visit_impl_item_fn_mut(&mut self, method: &mut syn::ImplItemFn) {
            self.uuids = method
                .sig
                .inputs
                .iter()
                .filter_map(|input| match input {
                    syn::FnArg::Typed(typed) => Some(typed),
                    syn::FnArg::Receiver(_) => None,
                })
                .filter(|typed| compact(&typed.ty) == "&'a::uuid::Uuid")
                .filter_map(|typed| match &*typed.pat {
                    syn::Pat::Ident(ident) => Some(ident.ident.to_string()),
                    _ => None,
                })
                .collect();
            self.seen += self.uuids.len();
            syn::visit_mut::visit_impl_item_fn_mut(self, method);
            self.uuids.clear();
        }

        fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
            if mac.path.is_ident("format") {
                let tokens = std::mem::take(&mut mac.tokens);
                mac.tokens = path_tokens(tokens, &self.uuids, &mut self.paths);
            }
        }

        fn visit_expr_call_mut(&mut self, call: &mut syn::ExprCall) {
            syn::visit_mut::visit_expr_call_mut(self, call);
            if compact(&call.func) == "ResponseValue::from_response" {
                *call.func = syn::parse_quote! { crate::hooks::from_response };
                self.answers += 1;
            }
        }

        fn visit_expr_method_call_mut(&mut self, call: &mut syn::ExprMethodCall) {
            syn::visit_mut::visit_expr_method_call_mut(self, call);
            if call.method != "append" || call.args.len() != 2 {
                return;
            }
            let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(name),
                ..
            }) = &call.args[0]
            else {
                return;
            };
            let name = name.clone();
            call.args[0] = syn::parse_quote! {
                const { ::reqwest::header::HeaderName::from_static(#name) }
            };
            self.names += 1;
            let value = compact(&call.args[1]);
            if let Some(uuid) = self
                .uuids
                .iter()
                .find(|uuid| value == format!("{uuid}.to_string().try_into()?"))
            {
                let uuid = syn::Ident::new(uuid, proc_macro2::Span::call_site());
                call.args[1] = syn::parse_quote! {
                    ::reqwest::header::HeaderValue::from_str(
                        #uuid.hyphenated().encode_lower(&mut ::uuid::Uuid::encode_buffer()),
                    )?
                };
                self.values += 1;
            }
        }
    }

    let mut rewrite = Rewrite::default();
    rewrite.visit_file_mut(file);
    // Each UUID parameter is used once, in the path or in a header; every
    // header name was a string.
    if rewrite.paths + rewrite.values != rewrite.seen
        || rewrite.paths == 0
        || rewrite.names == 0
        || rewrite.answers == 0
    {
        return Err(Error::Unexpected(format!(
            "progenitor's output no longer has the request shapes codegen rewrites: \
             {} UUID parameters, {} rewritten in a path, {} in a header; {} header names; \
             {} answers read",
            rewrite.seen, rewrite.paths, rewrite.values, rewrite.names, rewrite.answers
        )));
    }
    Ok(())
}

/// Headers the request gets after the generated code built it: the
/// transport's `x-auth-token`, reqwest's `user-agent`, hyper's `host` and
/// `content-length` (and a spare).
const HEADERS_ADDED_LATER: usize = 5;

/// Builds each request's headers in one map, sized once, instead of three:
/// progenitor makes a map of the header parameters, then the request
/// builder starts one of its own for `accept` (and `.json`'s
/// `content-type`) and merges the first into it; the merged map, sized for
/// six, then regrows when the transport, reqwest and hyper add theirs.
/// Here the parameters' map (sized for every header the request will
/// carry) gets `accept` and `content-type` and becomes the request's; the
/// body is serialised as `.json` would (`serde_json::to_vec`; a failure is
/// `Error::InvalidRequest` instead of a reqwest builder error). The same
/// headers and bytes are sent. The statements that build the request go in
/// a block of their own (see below).
///
/// Fails unless every operation's request is built in progenitor's shape
/// (so a progenitor change is noticed).
fn one_header_map(file: &mut syn::File, spec: &openapiv3::OpenAPI) -> Result<(), Error> {
    use syn::visit_mut::VisitMut;

    #[derive(Default)]
    struct Rewrite {
        requests: usize,
        maps: usize,
    }

    /// The request builder's chain, if it is progenitor's: the HTTP
    /// method, whether it has a JSON body.
    fn shape(expr: &syn::Expr) -> Option<(syn::Ident, bool)> {
        let text = compact(expr);
        let accept = ".header(::reqwest::header::ACCEPT,::reqwest::header::HeaderValue::from_static(\"application/json\",),)";
        for method in ["get", "post", "put", "patch", "delete"] {
            let start = format!("self.client.{method}(url){accept}");
            for json in [true, false] {
                let body = if json { ".json(&body)" } else { "" };
                if text == format!("{start}{body}.headers(header_map).build()?") {
                    return Some((
                        syn::Ident::new(method, proc_macro2::Span::call_site()),
                        json,
                    ));
                }
            }
        }
        None
    }

    impl VisitMut for Rewrite {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            syn::visit_mut::visit_block_mut(self, block);
            let mut stmts = Vec::with_capacity(block.stmts.len() + 3);
            for stmt in std::mem::take(&mut block.stmts) {
                let request = match &stmt {
                    syn::Stmt::Local(local) => local
                        .init
                        .as_ref()
                        .filter(|_| compact(&local.pat) == "mutrequest")
                        .and_then(|init| shape(&init.expr)),
                    _ => None,
                };
                let Some((method, json)) = request else {
                    stmts.push(stmt);
                    continue;
                };
                self.requests += 1;
                if json {
                    stmts.push(syn::parse_quote! {
                        let mut request = self
                            .client
                            .#method(url)
                            .body(crate::hooks::json_body(body)?)
                            .build()?;
                    });
                    stmts.push(syn::parse_quote! {
                        header_map.append(
                            ::reqwest::header::CONTENT_TYPE,
                            ::reqwest::header::HeaderValue::from_static("application/json"),
                        );
                    });
                } else {
                    stmts.push(syn::parse_quote! {
                        let mut request = self.client.#method(url).build()?;
                    });
                }
                stmts.push(syn::parse_quote! {
                    header_map.append(
                        ::reqwest::header::ACCEPT,
                        ::reqwest::header::HeaderValue::from_static("application/json"),
                    );
                });
                stmts.push(syn::parse_quote! {
                    *request.headers_mut() = header_map;
                });
                // Everything that built the request, in a block of its own:
                // its locals (the map, the URL, the request before it is
                // handed over) then end before the first `.await`, where
                // rustc would otherwise keep room for them in the future
                // (they were borrowed, so it cannot tell they were moved).
                let building = std::mem::take(&mut stmts);
                stmts.push(syn::parse_quote! {
                    let request = {
                        #(#building)*
                        request
                    };
                });
            }
            block.stmts = stmts;
        }

        fn visit_expr_call_mut(&mut self, call: &mut syn::ExprCall) {
            syn::visit_mut::visit_expr_call_mut(self, call);
            if compact(&call.func) != "::reqwest::header::HeaderMap::with_capacity" {
                return;
            }
            let Some(syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(n),
                ..
            })) = call.args.first()
            else {
                return;
            };
            let Ok(n) = n.base10_parse::<usize>() else {
                return;
            };
            // progenitor's count, plus `accept` and `content-type`, plus
            // what is added later.
            let capacity = n + 2 + HEADERS_ADDED_LATER;
            call.args[0] = syn::parse_quote! { #capacity };
            self.maps += 1;
        }
    }

    let operations = operation_count(spec);
    let mut rewrite = Rewrite::default();
    rewrite.visit_file_mut(file);
    if rewrite.requests != operations || rewrite.maps != operations {
        return Err(Error::Unexpected(format!(
            "progenitor's output no longer builds requests in the shape codegen rewrites: \
             {operations} operations, {} requests and {} header maps rewritten",
            rewrite.requests, rewrite.maps
        )));
    }
    Ok(())
}

/// Removes the calls of progenitor's `pre` and `post` hooks
/// (`self.pre(&mut request, &info).await?;`, `self.post(&result,
/// &info).await?;`). The raw crate keeps their defaults, which do nothing
/// (`hooks.rs` says so beside its `ClientHooks` impl, whose `exec` does
/// all): awaited, they kept the request (264 bytes) and the result in every
/// generated future, across two suspension points that never suspend. With
/// the request built in a block of its own (`one_header_map`) and answers
/// read by `hooks::from_response`, the generated future of `update_card`
/// goes from 1,656 to 880 bytes.
///
/// Fails unless each operation had exactly one of each (so a progenitor
/// change is noticed).
fn lean_hooks(file: &mut syn::File, spec: &openapiv3::OpenAPI) -> Result<(), Error> {
    use syn::visit_mut::VisitMut;

    #[derive(Default)]
    struct Strip {
        pre: usize,
        post: usize,
    }
    impl VisitMut for Strip {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            syn::visit_mut::visit_block_mut(self, block);
            block.stmts.retain(|stmt| {
                let syn::Stmt::Expr(expr, Some(_)) = stmt else {
                    return true;
                };
                match compact(expr).as_str() {
                    "self.pre(&mutrequest,&info).await?" => self.pre += 1,
                    "self.post(&result,&info).await?" => self.post += 1,
                    _ => return true,
                }
                false
            });
        }
    }

    let operations = operation_count(spec);
    let mut strip = Strip::default();
    strip.visit_file_mut(file);
    if strip.pre != operations || strip.post != operations {
        return Err(Error::Unexpected(format!(
            "progenitor's output no longer calls the hooks in the shape codegen removes: \
             {operations} operations, {} pre and {} post calls",
            strip.pre, strip.post
        )));
    }
    Ok(())
}

/// How many operations the spec has.
fn operation_count(spec: &openapiv3::OpenAPI) -> usize {
    spec.paths
        .iter()
        .filter_map(|(_, item)| item.as_item())
        .map(|item| item.iter().count())
        .sum()
}

/// The text of `tokens` without the spaces `to_string` puts between them,
/// to compare with a shape written by hand (`&'a::uuid::Uuid`).
fn compact(tokens: impl quote::ToTokens) -> String {
    tokens.to_token_stream().to_string().replace(' ', "")
}

/// Rewrites every multi-line `#[doc = "a\nb"]` into one `#[doc]` per line.
///
/// prettyplease prints a multi-line doc attribute as a `/** ... */` block
/// whose indented lines rustdoc then reads as an indented code block (and
/// tries to compile); one attribute per line prints as `///` lines instead.
/// The rendered documentation is the same.
fn split_doc_lines(tokens: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    use proc_macro2::{Delimiter, Group, TokenTree};

    let mut out = proc_macro2::TokenStream::new();
    let mut iter = tokens.into_iter().peekable();
    while let Some(tree) = iter.next() {
        match tree {
            TokenTree::Punct(ref punct) if punct.as_char() == '#' => {
                let doc = match iter.peek() {
                    Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Bracket => {
                        syn::parse2::<syn::MetaNameValue>(group.stream())
                            .ok()
                            .filter(|meta| meta.path.is_ident("doc"))
                            .and_then(|meta| match meta.value {
                                syn::Expr::Lit(syn::ExprLit {
                                    lit: syn::Lit::Str(text),
                                    ..
                                }) => Some(text.value()),
                                _ => None,
                            })
                    }
                    _ => None,
                };
                match doc {
                    Some(text) if text.contains('\n') => {
                        iter.next();
                        for line in text.split('\n') {
                            out.extend(quote! { #[doc = #line] });
                        }
                    }
                    _ => out.extend([tree]),
                }
            }
            TokenTree::Group(group) => {
                let mut inner = Group::new(group.delimiter(), split_doc_lines(group.stream()));
                inner.set_span(group.span());
                out.extend([TokenTree::Group(inner)]);
            }
            other => out.extend([other]),
        }
    }
    out
}

/// Runs `rustfmt` over `source` so that the output round-trips `cargo fmt --check`.
fn rustfmt(source: &str) -> Result<String, Error> {
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let mut child = Command::new(rustfmt)
        .args(["--edition", "2021", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Rustfmt(format!("cannot start rustfmt: {e}")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = source.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|e| Error::Rustfmt(e.to_string()))?;
    writer
        .join()
        .expect("the rustfmt writer thread does not panic")
        .map_err(|e| Error::Rustfmt(format!("cannot write to rustfmt: {e}")))?;
    if !output.status.success() {
        return Err(Error::Rustfmt(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| Error::Rustfmt(e.to_string()))
}

/// The result of comparing the checked-in file with what the spec generates.
#[derive(Debug, PartialEq, Eq)]
pub enum Freshness {
    /// The file is exactly what the spec generates.
    Fresh,
    /// The file differs; the payload is a unified diff (checked-in -> generated).
    Stale(String),
    /// The file does not exist.
    Missing,
}

/// Compares `current` (the checked-in file, if any) with `generated`.
pub fn freshness(current: Option<&str>, generated: &str) -> Freshness {
    match current {
        None => Freshness::Missing,
        Some(current) if current == generated => Freshness::Fresh,
        Some(current) => Freshness::Stale(
            similar::TextDiff::from_lines(current, generated)
                .unified_diff()
                .context_radius(2)
                .header(OUTPUT_PATH, "generated from the spec")
                .to_string(),
        ),
    }
}

/// Checks the checked-in generated file under `root` against the spec under `root`.
pub fn check(root: &Path) -> Result<Freshness, Error> {
    let generated = generate_from_path(&root.join(SPEC_PATH))?;
    let current = std::fs::read_to_string(root.join(OUTPUT_PATH)).ok();
    Ok(freshness(current.as_deref(), &generated))
}
