//! The web console (`/console`) driven like a browser: a reqwest client with
//! a cookie store signs in, reads the pages, and submits the forms with
//! (and without) the CSRF token.

pub(crate) mod browser;

mod job_detail;
mod jobs_page;
mod pages;
mod sign_in;
