//! What the command layer's pipeline (`botify_sim::pipeline`) builds from: training
//! recipes, which recommender specs name (`source:`) and so belong to the core.

pub mod recipe;
