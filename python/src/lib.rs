//! `weaverfs._core`: the weaverfs core (the crate `weaverfs-fs`) for Python. The fsspec
//! filesystem, file object and `results()` are Python (`weaverfs/`) over this module.

mod core;
mod errors;
mod options;
mod runtime;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<core::Core>()?;
    Ok(())
}
