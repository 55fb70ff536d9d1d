//! Blocking client for models deployed on Azure Machine Learning online endpoints.
#![forbid(unsafe_code)]

pub mod local;
