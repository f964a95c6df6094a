//! A reader for the synthesizable Verilog-2005 subset that aecc emits, for the analytic
//! estimator: modules with ANSI ports, `wire`/`reg` declarations (with initialiser),
//! `assign`, clocked `always` blocks with non-blocking assignments and `if`/`else`,
//! module instances with named connections, and the full expression grammar.
//!
//! The estimator reads the emitted files rather than a description inside the backend,
//! so it follows whatever structure the backend produces (shift-add trees, pipeline
//! registers, voters, configuration registers) without depending on backend internals.
//! Constructs outside the subset (`generate`, `case`, functions, tasks) are skipped and
//! recorded in [`Module::skipped`], so the estimate says what it did not see.

use std::collections::BTreeMap;
use std::fmt;

/// A parse error with its line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// A sized or unsized number: width (None = unsized), value bits, signed, has x/z.
    Number {
        width: Option<u32>,
        value: u128,
        signed: bool,
    },
    /// `$signed`, `$unsigned`, ...
    System(String),
    Str,
    Op(&'static str),
    Eof,
}

const OPS: &[&str] = &[
    "<<<", ">>>", "===", "!==", "~^", "^~", "~&", "~|", "<<", ">>", "==", "!=", "<=", ">=", "&&",
    "||", "+:", "-:", "**", "(", ")", "[", "]", "{", "}", ";", ",", ".", ":", "?", "=", "+", "-",
    "*", "/", "%", "<", ">", "!", "~", "&", "|", "^", "@", "#",
];

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
    /// A `(* keep *)` attribute came before the token being read.
    keep: bool,
}

impl<'a> Lexer<'a> {
    fn err(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            message: message.into(),
        }
    }

    fn skip_space(&mut self) {
        loop {
            match self.src.get(self.pos) {
                Some(b'\n') => {
                    self.line += 1;
                    self.pos += 1;
                }
                Some(c) if c.is_ascii_whitespace() => self.pos += 1,
                Some(b'/') if self.src.get(self.pos + 1) == Some(&b'/') => {
                    while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.src.get(self.pos + 1) == Some(&b'*') => {
                    self.pos += 2;
                    while self.pos + 1 < self.src.len()
                        && !(self.src[self.pos] == b'*' && self.src[self.pos + 1] == b'/')
                    {
                        if self.src[self.pos] == b'\n' {
                            self.line += 1;
                        }
                        self.pos += 1;
                    }
                    self.pos = (self.pos + 2).min(self.src.len());
                }
                // compiler directives (`default_nettype none, `timescale ...): whole line
                Some(b'`') => {
                    while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                // attributes (* ... *)
                Some(b'(')
                    if self.src.get(self.pos + 1) == Some(&b'*')
                        && self.src.get(self.pos + 2) != Some(&b')') =>
                {
                    self.pos += 2;
                    let start = self.pos;
                    while self.pos + 1 < self.src.len()
                        && !(self.src[self.pos] == b'*' && self.src[self.pos + 1] == b')')
                    {
                        if self.src[self.pos] == b'\n' {
                            self.line += 1;
                        }
                        self.pos += 1;
                    }
                    let text = String::from_utf8_lossy(&self.src[start..self.pos]);
                    if text
                        .split(',')
                        .any(|a| a.split('=').next().is_some_and(|k| k.trim() == "keep"))
                    {
                        self.keep = true;
                    }
                    self.pos = (self.pos + 2).min(self.src.len());
                }
                _ => return,
            }
        }
    }

    fn ident_char(c: u8) -> bool {
        c.is_ascii_alphanumeric() || c == b'_' || c == b'$'
    }

    fn based_digits(&mut self) -> String {
        let start = self.pos;
        while self
            .src
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'?')
        {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.src[start..self.pos]).replace('_', "")
    }

    /// The next token, its line, and whether a `(* keep *)` attribute preceded it.
    fn next(&mut self) -> Result<(Tok, usize, bool), ParseError> {
        self.keep = false;
        let (tok, line) = self.next_token()?;
        Ok((tok, line, std::mem::take(&mut self.keep)))
    }

    fn next_token(&mut self) -> Result<(Tok, usize), ParseError> {
        self.skip_space();
        let line = self.line;
        let Some(&c) = self.src.get(self.pos) else {
            return Ok((Tok::Eof, line));
        };
        if c == b'\\' {
            // escaped identifier, up to white space
            let start = self.pos + 1;
            while self
                .src
                .get(self.pos)
                .is_some_and(|c| !c.is_ascii_whitespace())
            {
                self.pos += 1;
            }
            let name = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
            return Ok((Tok::Ident(name), line));
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = self.pos;
            while self.src.get(self.pos).is_some_and(|&c| Self::ident_char(c)) {
                self.pos += 1;
            }
            let name = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
            return Ok((Tok::Ident(name), line));
        }
        if c == b'$' {
            let start = self.pos;
            self.pos += 1;
            while self.src.get(self.pos).is_some_and(|&c| Self::ident_char(c)) {
                self.pos += 1;
            }
            let name = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
            return Ok((Tok::System(name), line));
        }
        if c == b'"' {
            self.pos += 1;
            while self.src.get(self.pos).is_some_and(|&c| c != b'"') {
                if self.src[self.pos] == b'\\' {
                    self.pos += 1;
                }
                self.pos += 1;
            }
            self.pos += 1;
            return Ok((Tok::Str, line));
        }
        if c.is_ascii_digit() || c == b'\'' {
            // decimal size (or unsized decimal value), then optional 'base
            let mut size: Option<u128> = None;
            if c.is_ascii_digit() {
                let start = self.pos;
                while self
                    .src
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_digit() || *c == b'_')
                {
                    self.pos += 1;
                }
                let text = String::from_utf8_lossy(&self.src[start..self.pos]).replace('_', "");
                size = Some(text.parse().map_err(|_| self.err("number too large"))?);
                let save = self.pos;
                self.skip_space();
                if self.src.get(self.pos) != Some(&b'\'') {
                    self.pos = save;
                    return Ok((
                        Tok::Number {
                            width: None,
                            value: size.unwrap(),
                            signed: true,
                        },
                        line,
                    ));
                }
            }
            // at the apostrophe
            self.pos += 1;
            let mut signed = false;
            if matches!(self.src.get(self.pos), Some(b's') | Some(b'S')) {
                signed = true;
                self.pos += 1;
            }
            let base = match self.src.get(self.pos).map(|c| c.to_ascii_lowercase()) {
                Some(b'd') => 10,
                Some(b'h') => 16,
                Some(b'b') => 2,
                Some(b'o') => 8,
                _ => return Err(self.err("malformed based number")),
            };
            self.pos += 1;
            self.skip_space();
            let digits = self.based_digits();
            let mut value: u128 = 0;
            for d in digits.chars() {
                // x/z/? digits read as 0: the estimator only needs a value
                let v = d.to_digit(base).unwrap_or(0) as u128;
                value = value.wrapping_mul(base as u128).wrapping_add(v);
            }
            let width = size.map(|s| s as u32);
            let value = match width {
                Some(w) if w < 128 => value & ((1u128 << w) - 1),
                _ => value,
            };
            return Ok((
                Tok::Number {
                    width: Some(width.unwrap_or(32)),
                    value,
                    signed,
                },
                line,
            ));
        }
        for op in OPS {
            if self.src[self.pos..].starts_with(op.as_bytes()) {
                self.pos += op.len();
                return Ok((Tok::Op(op), line));
            }
        }
        Err(self.err(format!("unexpected character {:?}", c as char)))
    }
}

/// A Verilog expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number {
        /// Declared width (unsized numbers: None, 32 bits).
        width: Option<u32>,
        value: u128,
        signed: bool,
    },
    Ident(String),
    /// `e[i]`
    Index(Box<Expr>, Box<Expr>),
    /// `e[msb:lsb]`
    Range(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `e[base +: width]` (up) or `e[base -: width]`
    Part {
        base: Box<Expr>,
        start: Box<Expr>,
        width: Box<Expr>,
        up: bool,
    },
    Concat(Vec<Expr>),
    /// `{n{a, b}}`
    Repeat(Box<Expr>, Vec<Expr>),
    Unary(&'static str, Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `$signed(e)`, `$unsigned(e)`, other system functions.
    Call(String, Vec<Expr>),
}

/// Direction of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Input,
    Output,
    Inout,
}

/// `[msb:lsb]` as expressions (evaluated with the module's parameters).
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    pub msb: Expr,
    pub lsb: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PortDecl {
    pub dir: Dir,
    pub name: String,
    pub range: Option<Range>,
    pub is_reg: bool,
    pub signed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetKind {
    Wire,
    Reg,
    Integer,
}

/// A clocked or combinational statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Block(Vec<Stmt>),
    /// `lhs <= rhs` (`blocking`: `lhs = rhs`)
    Assign {
        lhs: Expr,
        rhs: Expr,
        blocking: bool,
    },
    If {
        cond: Expr,
        then: Box<Stmt>,
        otherwise: Option<Box<Stmt>>,
    },
    Empty,
}

/// What an `always` block is sensitive to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sensitivity {
    /// `@(posedge clk)` / `@(negedge clk)`: the clock name (and edges of async resets).
    Edge(Vec<(bool, String)>),
    /// `@*`, `@(*)` or a level list.
    Combinational,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Decl {
        kind: NetKind,
        name: String,
        range: Option<Range>,
        signed: bool,
        init: Option<Expr>,
    },
    Param {
        name: String,
        value: Expr,
    },
    Assign {
        lhs: Expr,
        rhs: Expr,
    },
    Always {
        sensitivity: Sensitivity,
        body: Stmt,
        /// Marked `(* keep *)`: synthesis keeps its flip-flops even when identical.
        keep: bool,
    },
    Instance {
        module: String,
        name: String,
        /// Line of the instance statement (yosys `src` attributes refer to it).
        line: usize,
        params: Vec<(Option<String>, Expr)>,
        /// Named (`.port(expr)`) or positional connections; `None` = left open.
        connections: Vec<(Option<String>, Option<Expr>)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    pub name: String,
    pub params: Vec<(String, Expr)>,
    pub ports: Vec<PortDecl>,
    pub items: Vec<Item>,
    /// Constructs the reader skipped (keyword and line), so estimates can say so.
    pub skipped: Vec<String>,
}

struct Parser<'a> {
    lex: Lexer<'a>,
    tok: Tok,
    line: usize,
    peeked: Option<(Tok, usize, bool)>,
    /// `tok` came after a `(* keep *)` attribute.
    tok_keep: bool,
}

type PResult<T> = Result<T, ParseError>;

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> PResult<Parser<'a>> {
        let mut lex = Lexer {
            src: src.as_bytes(),
            pos: 0,
            line: 1,
            keep: false,
        };
        let (tok, line, tok_keep) = lex.next()?;
        Ok(Parser {
            lex,
            tok,
            line,
            peeked: None,
            tok_keep,
        })
    }

    fn err<T>(&self, message: impl Into<String>) -> PResult<T> {
        Err(ParseError {
            line: self.line,
            message: message.into(),
        })
    }

    fn bump(&mut self) -> PResult<Tok> {
        let (next, line, keep) = match self.peeked.take() {
            Some(p) => p,
            None => self.lex.next()?,
        };
        self.line = line;
        self.tok_keep = keep;
        Ok(std::mem::replace(&mut self.tok, next))
    }

    fn peek2(&mut self) -> PResult<&Tok> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lex.next()?);
        }
        Ok(&self.peeked.as_ref().unwrap().0)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(&self.tok, Tok::Op(o) if *o == op)
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.tok, Tok::Ident(s) if s == kw)
    }

    fn eat_op(&mut self, op: &str) -> PResult<bool> {
        if self.is_op(op) {
            self.bump()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn eat_kw(&mut self, kw: &str) -> PResult<bool> {
        if self.is_kw(kw) {
            self.bump()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn expect_op(&mut self, op: &str) -> PResult<()> {
        if self.eat_op(op)? {
            Ok(())
        } else {
            self.err(format!("expected '{op}', found {:?}", self.tok))
        }
    }

    fn ident(&mut self) -> PResult<String> {
        match self.bump()? {
            Tok::Ident(s) => Ok(s),
            t => self.err(format!("expected an identifier, found {t:?}")),
        }
    }

    fn modules(&mut self) -> PResult<Vec<Module>> {
        let mut out = Vec::new();
        loop {
            match &self.tok {
                Tok::Eof => return Ok(out),
                Tok::Ident(k) if k == "module" || k == "macromodule" => {
                    self.bump()?;
                    out.push(self.module()?);
                }
                _ => {
                    self.bump()?;
                }
            }
        }
    }

    fn range_opt(&mut self) -> PResult<Option<Range>> {
        if self.eat_op("[")? {
            let msb = self.expr()?;
            self.expect_op(":")?;
            let lsb = self.expr()?;
            self.expect_op("]")?;
            Ok(Some(Range { msb, lsb }))
        } else {
            Ok(None)
        }
    }

    fn param_assignments(&mut self, into: &mut Vec<(String, Expr)>) -> PResult<()> {
        // after `parameter` / `localparam`: [signed] [range] name = expr {, name = expr}
        let _ = self.eat_kw("signed")?;
        let _ = self.eat_kw("integer")?;
        let _ = self.range_opt()?;
        loop {
            let name = self.ident()?;
            self.expect_op("=")?;
            let value = self.expr()?;
            into.push((name, value));
            if !self.is_op(",") {
                return Ok(());
            }
            // `, parameter X = ...` inside #( ) or `, Y = ...`
            if let Tok::Ident(k) = self.peek2()?.clone() {
                if k == "parameter" || k == "localparam" {
                    return Ok(());
                }
            }
            self.bump()?;
        }
    }

    fn module(&mut self) -> PResult<Module> {
        let name = self.ident()?;
        let mut m = Module {
            name,
            params: Vec::new(),
            ports: Vec::new(),
            items: Vec::new(),
            skipped: Vec::new(),
        };
        if self.eat_op("#")? {
            self.expect_op("(")?;
            while !self.is_op(")") {
                if self.eat_kw("parameter")? || self.eat_kw("localparam")? {
                    let mut ps = Vec::new();
                    self.param_assignments(&mut ps)?;
                    m.params.extend(ps);
                } else if !self.eat_op(",")? {
                    return self.err("malformed parameter list");
                }
            }
            self.expect_op(")")?;
        }
        if self.eat_op("(")? {
            let mut dir = Dir::Input;
            let mut is_reg = false;
            let mut signed = false;
            let mut range = None;
            while !self.is_op(")") {
                if self.eat_op(",")? {
                    continue;
                }
                let d = if self.eat_kw("input")? {
                    Some(Dir::Input)
                } else if self.eat_kw("output")? {
                    Some(Dir::Output)
                } else if self.eat_kw("inout")? {
                    Some(Dir::Inout)
                } else {
                    None
                };
                if let Some(d) = d {
                    dir = d;
                    is_reg = false;
                    signed = false;
                    if self.eat_kw("wire")? {
                    } else if self.eat_kw("reg")? {
                        is_reg = true;
                    }
                    if self.eat_kw("signed")? {
                        signed = true;
                    }
                    range = self.range_opt()?;
                }
                let name = self.ident()?;
                m.ports.push(PortDecl {
                    dir,
                    name,
                    range: range.clone(),
                    is_reg,
                    signed,
                });
            }
            self.expect_op(")")?;
        }
        self.expect_op(";")?;
        loop {
            match self.tok.clone() {
                Tok::Eof => return self.err(format!("module {} has no endmodule", m.name)),
                Tok::Ident(k) => match k.as_str() {
                    "endmodule" => {
                        self.bump()?;
                        return Ok(m);
                    }
                    "wire" | "reg" | "integer" | "tri" | "logic" => {
                        self.bump()?;
                        let kind = match k.as_str() {
                            "reg" | "logic" => NetKind::Reg,
                            "integer" => NetKind::Integer,
                            _ => NetKind::Wire,
                        };
                        self.decls(kind, &mut m)?;
                    }
                    "input" | "output" | "inout" => {
                        // non-ANSI port declarations
                        self.bump()?;
                        let dir = match k.as_str() {
                            "input" => Dir::Input,
                            "output" => Dir::Output,
                            _ => Dir::Inout,
                        };
                        let is_reg = self.eat_kw("reg")? || {
                            let _ = self.eat_kw("wire")?;
                            false
                        };
                        let signed = self.eat_kw("signed")?;
                        let range = self.range_opt()?;
                        loop {
                            let name = self.ident()?;
                            if let Some(p) = m.ports.iter_mut().find(|p| p.name == name) {
                                p.dir = dir;
                                p.range = range.clone();
                                p.is_reg = is_reg;
                                p.signed = signed;
                            }
                            if !self.eat_op(",")? {
                                break;
                            }
                        }
                        self.expect_op(";")?;
                    }
                    "parameter" | "localparam" => {
                        self.bump()?;
                        let mut ps = Vec::new();
                        self.param_assignments(&mut ps)?;
                        self.expect_op(";")?;
                        for (name, value) in ps {
                            m.items.push(Item::Param { name, value });
                        }
                    }
                    "assign" => {
                        self.bump()?;
                        loop {
                            let lhs = self.expr()?;
                            self.expect_op("=")?;
                            let rhs = self.expr()?;
                            m.items.push(Item::Assign { lhs, rhs });
                            if !self.eat_op(",")? {
                                break;
                            }
                        }
                        self.expect_op(";")?;
                    }
                    "always" => {
                        let keep = self.tok_keep;
                        self.bump()?;
                        let sensitivity = self.sensitivity()?;
                        let body = self.stmt(&mut m)?;
                        m.items.push(Item::Always {
                            sensitivity,
                            body,
                            keep,
                        });
                    }
                    "initial" | "generate" | "function" | "task" | "specify" => {
                        let line = self.line;
                        self.skip_construct(&k)?;
                        m.skipped.push(format!("{k} (line {line})"));
                    }
                    "genvar" | "defparam" | "time" | "real" | "event" => {
                        let line = self.line;
                        self.skip_to_semicolon()?;
                        m.skipped.push(format!("{k} (line {line})"));
                    }
                    _ => {
                        let line = self.line;
                        self.bump()?;
                        self.instance(k, line, &mut m)?;
                    }
                },
                Tok::Op(";") => {
                    self.bump()?;
                }
                t => return self.err(format!("unexpected {t:?} in module {}", m.name)),
            }
        }
    }

    fn skip_to_semicolon(&mut self) -> PResult<()> {
        while !self.is_op(";") {
            if self.tok == Tok::Eof {
                return self.err("unexpected end of file");
            }
            self.bump()?;
        }
        self.bump()?;
        Ok(())
    }

    /// Skips `initial ...`, `generate ... endgenerate`, `function ... endfunction`, ...
    fn skip_construct(&mut self, kw: &str) -> PResult<()> {
        let end = match kw {
            "generate" => "endgenerate",
            "function" => "endfunction",
            "task" => "endtask",
            "specify" => "endspecify",
            _ => "",
        };
        self.bump()?;
        if end.is_empty() {
            // initial: one statement
            let mut sink = Module {
                name: String::new(),
                params: Vec::new(),
                ports: Vec::new(),
                items: Vec::new(),
                skipped: Vec::new(),
            };
            self.stmt(&mut sink)?;
            return Ok(());
        }
        while !self.is_kw(end) {
            if self.tok == Tok::Eof {
                return self.err(format!("no {end}"));
            }
            self.bump()?;
        }
        self.bump()?;
        Ok(())
    }

    fn decls(&mut self, kind: NetKind, m: &mut Module) -> PResult<()> {
        let signed = self.eat_kw("signed")?;
        let range = if kind == NetKind::Integer {
            Some(Range {
                msb: Expr::Number {
                    width: None,
                    value: 31,
                    signed: true,
                },
                lsb: Expr::Number {
                    width: None,
                    value: 0,
                    signed: true,
                },
            })
        } else {
            self.range_opt()?
        };
        loop {
            let name = self.ident()?;
            if self.is_op("[") {
                // memories: recorded as skipped
                m.skipped
                    .push(format!("memory {name} (line {})", self.line));
                while !self.is_op(",") && !self.is_op(";") {
                    self.bump()?;
                }
            }
            let init = if self.eat_op("=")? {
                Some(self.expr()?)
            } else {
                None
            };
            m.items.push(Item::Decl {
                kind,
                name,
                range: range.clone(),
                signed,
                init,
            });
            if !self.eat_op(",")? {
                break;
            }
        }
        self.expect_op(";")
    }

    fn sensitivity(&mut self) -> PResult<Sensitivity> {
        if !self.eat_op("@")? {
            return Ok(Sensitivity::Combinational);
        }
        if self.eat_op("*")? {
            return Ok(Sensitivity::Combinational);
        }
        self.expect_op("(")?;
        if self.eat_op("*")? {
            self.expect_op(")")?;
            return Ok(Sensitivity::Combinational);
        }
        let mut edges = Vec::new();
        let mut level = false;
        loop {
            if self.eat_kw("posedge")? {
                edges.push((true, self.ident()?));
            } else if self.eat_kw("negedge")? {
                edges.push((false, self.ident()?));
            } else {
                self.expr()?;
                level = true;
            }
            if !(self.eat_op(",")? || self.eat_kw("or")?) {
                break;
            }
        }
        self.expect_op(")")?;
        Ok(if level || edges.is_empty() {
            Sensitivity::Combinational
        } else {
            Sensitivity::Edge(edges)
        })
    }

    fn stmt(&mut self, m: &mut Module) -> PResult<Stmt> {
        if self.eat_kw("begin")? {
            if self.eat_op(":")? {
                self.ident()?;
            }
            let mut body = Vec::new();
            while !self.eat_kw("end")? {
                if self.tok == Tok::Eof {
                    return self.err("no end");
                }
                body.push(self.stmt(m)?);
            }
            return Ok(Stmt::Block(body));
        }
        if self.eat_kw("if")? {
            self.expect_op("(")?;
            let cond = self.expr()?;
            self.expect_op(")")?;
            let then = Box::new(self.stmt(m)?);
            let otherwise = if self.eat_kw("else")? {
                Some(Box::new(self.stmt(m)?))
            } else {
                None
            };
            return Ok(Stmt::If {
                cond,
                then,
                otherwise,
            });
        }
        if self.eat_op(";")? {
            return Ok(Stmt::Empty);
        }
        if let Tok::Ident(k) = self.tok.clone() {
            if matches!(
                k.as_str(),
                "case" | "casez" | "casex" | "for" | "while" | "repeat"
            ) {
                let line = self.line;
                // skip to the matching endcase / the loop body
                if k.starts_with("case") {
                    let mut depth = 0;
                    loop {
                        match &self.tok {
                            Tok::Ident(s) if s.starts_with("case") => depth += 1,
                            Tok::Ident(s) if s == "endcase" => {
                                depth -= 1;
                                if depth == 0 {
                                    self.bump()?;
                                    break;
                                }
                            }
                            Tok::Eof => return self.err("no endcase"),
                            _ => {}
                        }
                        self.bump()?;
                    }
                } else {
                    self.bump()?;
                    self.expect_op("(")?;
                    let mut depth = 1;
                    while depth > 0 {
                        if self.is_op("(") {
                            depth += 1;
                        } else if self.is_op(")") {
                            depth -= 1;
                        } else if self.tok == Tok::Eof {
                            return self.err("unbalanced parentheses");
                        }
                        self.bump()?;
                    }
                    self.stmt(m)?;
                }
                m.skipped.push(format!("{k} (line {line})"));
                return Ok(Stmt::Empty);
            }
        }
        if let Tok::System(_) = self.tok {
            // $display etc.
            self.skip_to_semicolon()?;
            return Ok(Stmt::Empty);
        }
        let lhs = self.primary()?;
        let blocking = if self.eat_op("<=")? {
            false
        } else if self.eat_op("=")? {
            true
        } else {
            return self.err(format!("expected '<=' or '=', found {:?}", self.tok));
        };
        let rhs = self.expr()?;
        self.expect_op(";")?;
        Ok(Stmt::Assign { lhs, rhs, blocking })
    }

    fn instance(&mut self, module: String, line: usize, m: &mut Module) -> PResult<()> {
        let mut params = Vec::new();
        if self.eat_op("#")? {
            self.expect_op("(")?;
            params = self.connection_list()?;
        }
        loop {
            let name = self.ident()?;
            if self.is_op("[") {
                m.skipped
                    .push(format!("instance array {name} (line {})", self.line));
                self.range_opt()?;
            }
            self.expect_op("(")?;
            let connections = self.connection_list()?;
            m.items.push(Item::Instance {
                module: module.clone(),
                name,
                line,
                params: params
                    .iter()
                    .map(|(n, e)| (n.clone(), e.clone().unwrap_or(Expr::Ident(String::new()))))
                    .collect(),
                connections,
            });
            if !self.eat_op(",")? {
                break;
            }
        }
        self.expect_op(";")
    }

    /// After `(`: `.a(x), .b(), c` up to and including `)`.
    fn connection_list(&mut self) -> PResult<Vec<(Option<String>, Option<Expr>)>> {
        let mut out = Vec::new();
        if self.eat_op(")")? {
            return Ok(out);
        }
        loop {
            if self.eat_op(".")? {
                let port = self.ident()?;
                self.expect_op("(")?;
                let e = if self.is_op(")") {
                    None
                } else {
                    Some(self.expr()?)
                };
                self.expect_op(")")?;
                out.push((Some(port), e));
            } else if self.is_op(",") {
                out.push((None, None));
            } else {
                out.push((None, Some(self.expr()?)));
            }
            if !self.eat_op(",")? {
                break;
            }
        }
        self.expect_op(")")?;
        Ok(out)
    }

    // ---- expressions: precedence climbing ----

    pub fn expr(&mut self) -> PResult<Expr> {
        let cond = self.binary(0)?;
        if self.eat_op("?")? {
            let a = self.expr()?;
            self.expect_op(":")?;
            let b = self.expr()?;
            return Ok(Expr::Ternary(Box::new(cond), Box::new(a), Box::new(b)));
        }
        Ok(cond)
    }

    fn binary_op(&self) -> Option<(&'static str, u8)> {
        let Tok::Op(op) = &self.tok else { return None };
        let prec = match *op {
            "||" => 1,
            "&&" => 2,
            "|" => 3,
            "^" | "~^" | "^~" => 4,
            "&" => 5,
            "==" | "!=" | "===" | "!==" => 6,
            "<" | "<=" | ">" | ">=" => 7,
            "<<" | ">>" | "<<<" | ">>>" => 8,
            "+" | "-" => 9,
            "*" | "/" | "%" => 10,
            "**" => 11,
            _ => return None,
        };
        Some((op, prec))
    }

    fn binary(&mut self, min: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        while let Some((op, prec)) = self.binary_op() {
            if prec <= min {
                break;
            }
            self.bump()?;
            let rhs = self.binary(prec)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Expr> {
        if let Tok::Op(op) = self.tok {
            if matches!(
                op,
                "+" | "-" | "!" | "~" | "&" | "|" | "^" | "~&" | "~|" | "~^" | "^~"
            ) {
                self.bump()?;
                let e = self.unary()?;
                return Ok(Expr::Unary(op, Box::new(e)));
            }
        }
        self.primary()
    }

    fn selects(&mut self, mut e: Expr) -> PResult<Expr> {
        while self.eat_op("[")? {
            let a = self.expr()?;
            if self.eat_op(":")? {
                let b = self.expr()?;
                self.expect_op("]")?;
                e = Expr::Range(Box::new(e), Box::new(a), Box::new(b));
            } else if self.eat_op("+:")? || self.is_op("-:") {
                let up = !self.eat_op("-:")?;
                let w = self.expr()?;
                self.expect_op("]")?;
                e = Expr::Part {
                    base: Box::new(e),
                    start: Box::new(a),
                    width: Box::new(w),
                    up,
                };
            } else {
                self.expect_op("]")?;
                e = Expr::Index(Box::new(e), Box::new(a));
            }
        }
        Ok(e)
    }

    fn primary(&mut self) -> PResult<Expr> {
        match self.bump()? {
            Tok::Number {
                width,
                value,
                signed,
            } => Ok(Expr::Number {
                width,
                value,
                signed,
            }),
            Tok::Ident(name) => {
                let mut e = Expr::Ident(name);
                // hierarchical names a.b: kept as one identifier
                while self.is_op(".") {
                    if let Tok::Ident(_) = self.peek2()? {
                        self.bump()?;
                        let rest = self.ident()?;
                        if let Expr::Ident(n) = &mut e {
                            n.push('.');
                            n.push_str(&rest);
                        }
                    } else {
                        break;
                    }
                }
                self.selects(e)
            }
            Tok::System(name) => {
                let mut args = Vec::new();
                if self.eat_op("(")? && !self.eat_op(")")? {
                    loop {
                        args.push(self.expr()?);
                        if !self.eat_op(",")? {
                            break;
                        }
                    }
                    self.expect_op(")")?;
                }
                Ok(Expr::Call(name, args))
            }
            Tok::Op("(") => {
                let e = self.expr()?;
                self.expect_op(")")?;
                self.selects(e)
            }
            Tok::Op("{") => {
                let first = self.expr()?;
                if self.eat_op("{")? {
                    // replication {n{...}}
                    let mut items = Vec::new();
                    loop {
                        items.push(self.expr()?);
                        if !self.eat_op(",")? {
                            break;
                        }
                    }
                    self.expect_op("}")?;
                    self.expect_op("}")?;
                    return self.selects(Expr::Repeat(Box::new(first), items));
                }
                let mut items = vec![first];
                while self.eat_op(",")? {
                    items.push(self.expr()?);
                }
                self.expect_op("}")?;
                self.selects(Expr::Concat(items))
            }
            Tok::Str => Ok(Expr::Number {
                width: Some(8),
                value: 0,
                signed: false,
            }),
            t => self.err(format!("unexpected {t:?} in an expression")),
        }
    }
}

/// Reads every module of one Verilog source text.
pub fn parse(src: &str) -> Result<Vec<Module>, ParseError> {
    Parser::new(src)?.modules()
}

/// Evaluates a constant expression (ranges, parameters); `None` if it is not constant.
pub fn const_eval(e: &Expr, params: &BTreeMap<String, i128>) -> Option<i128> {
    Some(match e {
        Expr::Number { value, .. } => *value as i128,
        Expr::Ident(n) => *params.get(n)?,
        Expr::Unary(op, a) => {
            let a = const_eval(a, params)?;
            match *op {
                "-" => -a,
                "+" => a,
                "!" => i128::from(a == 0),
                "~" => !a,
                _ => return None,
            }
        }
        Expr::Binary(op, a, b) => {
            let (a, b) = (const_eval(a, params)?, const_eval(b, params)?);
            match *op {
                "+" => a.checked_add(b)?,
                "-" => a.checked_sub(b)?,
                "*" => a.checked_mul(b)?,
                "/" if b != 0 => a / b,
                "%" if b != 0 => a % b,
                "<<" => a.checked_shl(u32::try_from(b).ok()?)?,
                ">>" => a.checked_shr(u32::try_from(b).ok()?)?,
                "**" => a.checked_pow(u32::try_from(b).ok()?)?,
                "&" => a & b,
                "|" => a | b,
                "^" => a ^ b,
                "==" => i128::from(a == b),
                "!=" => i128::from(a != b),
                "<" => i128::from(a < b),
                ">" => i128::from(a > b),
                "<=" => i128::from(a <= b),
                ">=" => i128::from(a >= b),
                _ => return None,
            }
        }
        Expr::Ternary(c, a, b) => {
            if const_eval(c, params)? != 0 {
                const_eval(a, params)?
            } else {
                const_eval(b, params)?
            }
        }
        Expr::Call(name, args) if name == "$clog2" && args.len() == 1 => {
            let v = const_eval(&args[0], params)?;
            if v <= 1 {
                0
            } else {
                128 - ((v - 1) as u128).leading_zeros() as i128
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_generated_layer() {
        let src = "`default_nettype none
// comment
module m_dense (
    input  wire clk,
    input  wire [19:0] in_data,
    output reg  [11:0] out_data
);
  wire [9:0] x0 = in_data[9:0];
  wire [9:0] x1 = in_data[19:10];
  wire [11:0] xe0 = {{2{x0[9]}}, x0};
  // y[0]
  wire [11:0] y0 = xe0 * 12'd3 - {x1, 2'd0} + 12'd5;
  wire unused_bits = &{1'b0, x1[9], 1'b0};
  always @(posedge clk) begin
    out_data <= {y0};
  end
endmodule
`default_nettype wire
";
        let ms = parse(src).unwrap();
        assert_eq!(ms.len(), 1);
        let m = &ms[0];
        assert_eq!(m.name, "m_dense");
        assert_eq!(m.ports.len(), 3);
        assert!(m.ports[2].is_reg);
        assert!(m.skipped.is_empty());
        assert_eq!(
            m.items
                .iter()
                .filter(|i| matches!(i, Item::Decl { .. }))
                .count(),
            5
        );
        assert!(matches!(
            m.items.last(),
            Some(Item::Always {
                sensitivity: Sensitivity::Edge(_),
                ..
            })
        ));
    }

    #[test]
    fn precedence_and_numbers() {
        let mut p = Parser::new("a + b * 3'd5 - -8'sd3 == c ? {2{x}} : y[3 +: 2]").unwrap();
        let e = p.expr().unwrap();
        let Expr::Ternary(c, _, b) = e else {
            panic!("ternary")
        };
        assert!(matches!(*c, Expr::Binary("==", _, _)));
        assert!(matches!(*b, Expr::Part { up: true, .. }));
        let mut p = Parser::new("-8'sd3").unwrap();
        assert_eq!(
            p.expr().unwrap(),
            Expr::Unary(
                "-",
                Box::new(Expr::Number {
                    width: Some(8),
                    value: 3,
                    signed: true
                })
            )
        );
    }

    #[test]
    fn instances_parameters_and_skips() {
        let src =
            "module t #(parameter W = 4, parameter N = W * 2) (input wire clk, input wire rst,
            output wire [N-1:0] q);
          reg [N-1:0] r;
          always @(posedge clk) begin
            if (rst) r <= 0; else r <= r + 1'b1;
          end
          sub #(.K(3)) u_a (.a(r[W-1:0]), .b(), .y(q[0]));
          generate if (W > 2) begin : g end endgenerate
          assign q[N-1:1] = r[N-1:1];
        endmodule";
        let ms = parse(src).unwrap();
        let m = &ms[0];
        assert_eq!(m.params.len(), 2);
        let mut params = BTreeMap::new();
        for (n, e) in &m.params {
            let v = const_eval(e, &params).unwrap();
            params.insert(n.clone(), v);
        }
        assert_eq!(params["N"], 8);
        assert_eq!(m.skipped.len(), 1);
        assert!(m.items.iter().any(
            |i| matches!(i, Item::Instance { module, connections, .. } if module == "sub" && connections.len() == 3)
        ));
    }
}
