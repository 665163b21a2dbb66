//! The output of `rsthound counters`: lines for people ([`text`]) and one JSON object per line for
//! scripts (records in [`crate::sink::schema::counters`]).

pub mod text;

use crate::engine::counters::{IntervalView, RunView};
use crate::sink::schema::counters::{interval_json, summary_json};
use serde::Serialize;
use std::io::{self, Write};

fn write_line(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)
}

pub fn write_interval(out: &mut dyn Write, v: &IntervalView<'_>) -> io::Result<()> {
    write_line(out, &interval_json(v))
}

pub fn write_summary(out: &mut dyn Write, r: &RunView<'_>) -> io::Result<()> {
    write_line(out, &summary_json(r))
}
