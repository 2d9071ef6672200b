//! Recommender specs as written in experiment files (`kind:` tagged YAML) and how each
//! becomes a live recommender.

use super::Recommender;
use super::console::{Console, Terminal};
use super::contextual::Contextual;
use super::history::History;
use super::indexed::Indexed;
use super::lists::IdLists;
use super::no_repeat::{NoRepeat, Pool};
use super::oracle::Oracle;
use super::remote::{Remote, RemoteOptions};
use super::simple::{RandomTrack, StickyArtist, TopPop};
use crate::at_least_one;
use crate::pipeline::recipe::TrainRecipe;
use crate::world::{World, course_format::read_top_tracks};
use anyhow::{Context, bail};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One arm's policy. Relative file paths are relative to the experiment file.
///
/// Written `{kind: top_pop, k: 10}`. The derived (de)serializers are externally tagged
/// (`remote = "Self"` makes them inherent functions); the trait impls below turn `kind`
/// into the tag. Reading is streamed when `kind` comes first, so an error in an arm names
/// its line, not the line where the arm starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "snake_case", deny_unknown_fields)]
pub enum RecommenderSpec {
    /// A uniformly random track. `no_repeat` (here and below): never a track already
    /// played in the session (see `no_repeat.rs`); off by default and then not written,
    /// so experiments without it hash (and cache) as before.
    Random {
        #[serde(default, skip_serializing_if = "is_false")]
        no_repeat: bool,
    },
    /// Uniformly one of the `k` most popular tracks: from `file` (a course
    /// `top_tracks.json` JSON array) or the world's popularity ranking.
    TopPop {
        #[serde(default = "default_top_k", deserialize_with = "at_least_one::required")]
        k: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<PathBuf>,
        #[serde(default, skip_serializing_if = "is_false")]
        no_repeat: bool,
    },
    /// Uniformly one of the previous track's artist's tracks.
    StickyArtist {
        #[serde(default, skip_serializing_if = "is_false")]
        no_repeat: bool,
    },
    /// Per-user lists from `{"user", "tracks"}` JSON Lines (`file`, or made by the `source`
    /// recipe); `fallback` for users without one.
    Indexed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<TrainRecipe>,
        #[serde(default = "default_fallback")]
        fallback: Box<RecommenderSpec>,
        #[serde(default, skip_serializing_if = "is_false")]
        no_repeat: bool,
    },
    /// The reference solution over per-user lists (as `indexed`): no track twice in a
    /// session, at most `max_artist_recs` recommendations per artist, `fallback` after
    /// `attempts` rejected draws.
    History {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<TrainRecipe>,
        #[serde(
            default = "default_max_artist_recs",
            deserialize_with = "at_least_one::required"
        )]
        max_artist_recs: u32,
        #[serde(
            default = "default_attempts",
            deserialize_with = "at_least_one::required"
        )]
        attempts: u32,
        #[serde(default = "default_fallback")]
        fallback: Box<RecommenderSpec>,
    },
    /// Per-track lists from `{"track", "recommendations"}` JSON Lines (`file`, or made by
    /// the `source` recipe, `train: i2i`); `fallback` when the previous track has none.
    Contextual {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<TrainRecipe>,
        #[serde(default = "default_fallback")]
        fallback: Box<RecommenderSpec>,
        #[serde(default, skip_serializing_if = "is_false")]
        no_repeat: bool,
    },
    /// The ceiling: reads the hidden session taste (see `oracle.rs`).
    Oracle {
        #[serde(
            default = "default_oracle_candidates",
            deserialize_with = "at_least_one::required"
        )]
        candidates: usize,
    },
    /// A person at the terminal picks each track (see `console.rs`).
    Console,
    /// A service speaking the botify protocol at `url` (see `remote.rs`).
    Remote {
        url: String,
        #[serde(
            default = "default_remote_timeout_ms",
            deserialize_with = "at_least_one::required"
        )]
        timeout_ms: u64,
        /// Most retries of a request (none: as many as `wait_ms` allows).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retries: Option<u32>,
        #[serde(default = "default_remote_backoff_ms")]
        backoff_ms: u64,
        /// How long a request keeps asking an unavailable service.
        #[serde(default = "default_remote_wait_ms")]
        wait_ms: u64,
    },
    /// An arm the program running the experiment supplies in place of the file's spec
    /// (`botify_sim.run(arms=...)` in Python: an object of the caller's); `label` says
    /// what it is. An experiment file cannot build one.
    InProcess { label: String },
}

impl Serialize for RecommenderSpec {
    /// `{kind: <variant>, <fields>...}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap};
        let tagged = RecommenderSpec::serialize(self, serde_json::value::Serializer)
            .map_err(S::Error::custom)?;
        let (kind, fields) = match tagged {
            serde_json::Value::Object(outer) => match outer.into_iter().next() {
                Some((kind, serde_json::Value::Object(fields))) => (kind, fields),
                _ => return Err(S::Error::custom("a recommender spec is a struct variant")),
            },
            serde_json::Value::String(kind) => (kind, serde_json::Map::new()),
            _ => return Err(S::Error::custom("a recommender spec is a variant")),
        };
        let mut map = serializer.serialize_map(Some(fields.len() + 1))?;
        map.serialize_entry("kind", &kind)?;
        for (key, value) in &fields {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RecommenderSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(KindFirst)
    }
}

/// Reads a `{kind: ..., ...}` map: streamed when `kind` is the first key; otherwise
/// buffered (error positions are then those of the map).
struct KindFirst;

impl<'de> Visitor<'de> for KindFirst {
    type Value = RecommenderSpec;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a recommender: a map with `kind` and its options")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RecommenderSpec, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Err(de::Error::missing_field("kind"));
        };
        if first == "kind" {
            return RecommenderSpec::deserialize(KindThenFields(map));
        }
        let mut fields = serde_json::Map::new();
        let mut kind = None;
        let mut key = Some(first);
        while let Some(k) = key {
            let value: serde_json::Value = map.next_value()?;
            if k == "kind" {
                kind = Some(value);
            } else {
                fields.insert(k, value);
            }
            key = map.next_key()?;
        }
        let Some(serde_json::Value::String(kind)) = kind else {
            return Err(de::Error::custom(
                "`kind` must be given, as a name such as top_pop",
            ));
        };
        let tagged = if fields.is_empty() {
            serde_json::Value::String(kind)
        } else {
            serde_json::json!({ kind: fields })
        };
        RecommenderSpec::deserialize(tagged).map_err(de::Error::custom)
    }
}

/// The rest of a map whose `kind` key was just read, seen as an externally tagged enum:
/// the variant is `kind`'s value, the variant's fields are the remaining keys.
struct KindThenFields<A>(A);

impl<'de, A: MapAccess<'de>> Deserializer<'de> for KindThenFields<A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, A::Error> {
        Err(de::Error::custom("a recommender spec is read as an enum"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

impl<'de, A: MapAccess<'de>> de::EnumAccess<'de> for KindThenFields<A> {
    type Error = A::Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(
        mut self,
        seed: V,
    ) -> Result<(V::Value, Self), A::Error> {
        let variant = self.0.next_value_seed(seed)?;
        Ok((variant, self))
    }
}

impl<'de, A: MapAccess<'de>> de::VariantAccess<'de> for KindThenFields<A> {
    type Error = A::Error;

    fn unit_variant(mut self) -> Result<(), A::Error> {
        match self.0.next_key::<String>()? {
            None => Ok(()),
            Some(key) => Err(de::Error::custom(format!(
                "unknown field `{key}`: this kind takes no options"
            ))),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value, A::Error> {
        Err(de::Error::custom(
            "every recommender kind takes named options",
        ))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, A::Error> {
        Err(de::Error::custom(
            "every recommender kind takes named options",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_map(self.0)
    }
}

fn default_remote_timeout_ms() -> u64 {
    5_000
}

/// Long enough for a Redis behind the service to restart.
fn default_remote_wait_ms() -> u64 {
    10_000
}

fn default_remote_backoff_ms() -> u64 {
    100
}

fn display(file: &Option<PathBuf>) -> String {
    file.as_ref()
        .map_or_else(|| "?".to_string(), |f| f.display().to_string())
}

fn default_top_k() -> usize {
    100
}

fn default_fallback() -> Box<RecommenderSpec> {
    Box::new(RecommenderSpec::Random { no_repeat: false })
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn default_oracle_candidates() -> usize {
    300
}

fn default_max_artist_recs() -> u32 {
    3
}

fn default_attempts() -> u32 {
    10
}

/// The list file of a list spec: `file`, which the pipeline sets for a `source`.
fn list_file<'a>(
    kind: &str,
    file: &'a Option<PathBuf>,
    source: &Option<TrainRecipe>,
) -> anyhow::Result<&'a PathBuf> {
    match (file, source) {
        (Some(f), _) => Ok(f),
        (None, Some(_)) => {
            bail!("{kind}: the `source` recipe was not built (run it through `sim run`)")
        }
        (None, None) => {
            bail!("{kind}: needs `file` (a recommendation file) or `source` (a recipe)")
        }
    }
}

/// What building a recommender may read.
pub struct BuildContext {
    pub world: Arc<World>,
    /// Directory that relative paths in the spec are resolved against.
    pub base_dir: PathBuf,
}

impl BuildContext {
    fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}

impl RecommenderSpec {
    /// A short human label, e.g. `top_pop(k=100)`.
    pub fn label(&self) -> String {
        let base = match self {
            RecommenderSpec::Random { .. } => "random".into(),
            RecommenderSpec::TopPop { k, .. } => format!("top_pop(k={k})"),
            RecommenderSpec::StickyArtist { .. } => "sticky_artist".into(),
            RecommenderSpec::Indexed {
                source: Some(r), ..
            } => format!("indexed({} top-{})", r.train.name(), r.top_k),
            RecommenderSpec::Indexed { file, .. } => format!("indexed({})", display(file)),
            RecommenderSpec::History {
                source: Some(r), ..
            } => format!("history({} top-{})", r.train.name(), r.top_k),
            RecommenderSpec::History { file, .. } => format!("history({})", display(file)),
            RecommenderSpec::Contextual {
                source: Some(r), ..
            } => format!("contextual({} top-{})", r.train.name(), r.top_k),
            RecommenderSpec::Contextual { file, .. } => format!("contextual({})", display(file)),
            RecommenderSpec::Oracle { .. } => "oracle (reads hidden state)".into(),
            RecommenderSpec::Remote { url, .. } => format!("remote({url})"),
            RecommenderSpec::Console => "console (you)".into(),
            RecommenderSpec::InProcess { label } => label.clone(),
        };
        if self.no_repeat() {
            format!("{base}, no repeats")
        } else {
            base
        }
    }

    /// Whether `no_repeat: true` is set on this spec.
    fn no_repeat(&self) -> bool {
        match self {
            RecommenderSpec::Random { no_repeat }
            | RecommenderSpec::TopPop { no_repeat, .. }
            | RecommenderSpec::StickyArtist { no_repeat }
            | RecommenderSpec::Indexed { no_repeat, .. }
            | RecommenderSpec::Contextual { no_repeat, .. } => *no_repeat,
            _ => false,
        }
    }

    /// Whether this spec (or a fallback) reads the simulator's hidden session taste, which
    /// a real service never sees: such a spec cannot be served over HTTP.
    pub fn reads_hidden_state(&self) -> bool {
        match self {
            RecommenderSpec::Oracle { .. } => true,
            RecommenderSpec::Indexed { fallback, .. }
            | RecommenderSpec::History { fallback, .. }
            | RecommenderSpec::Contextual { fallback, .. } => fallback.reads_hidden_state(),
            _ => false,
        }
    }

    /// Whether this spec (or a fallback) reads from the terminal: such a run uses one
    /// worker and no progress bar.
    pub fn uses_console(&self) -> bool {
        match self {
            RecommenderSpec::Console => true,
            RecommenderSpec::Indexed { fallback, .. }
            | RecommenderSpec::History { fallback, .. }
            | RecommenderSpec::Contextual { fallback, .. } => fallback.uses_console(),
            _ => false,
        }
    }

    /// Whether this spec (or a fallback) asks a service over HTTP: such an arm cannot
    /// play an episode the service did not assign it (`sim run --paired`).
    pub fn uses_remote(&self) -> bool {
        match self {
            RecommenderSpec::Remote { .. } => true,
            RecommenderSpec::Indexed { fallback, .. }
            | RecommenderSpec::History { fallback, .. }
            | RecommenderSpec::Contextual { fallback, .. } => fallback.uses_remote(),
            _ => false,
        }
    }

    /// How many nearest neighbours per taste track this recommender reads from the world.
    pub fn neighbours_needed(&self) -> usize {
        match self {
            RecommenderSpec::Oracle { candidates } => *candidates,
            RecommenderSpec::Indexed { fallback, .. }
            | RecommenderSpec::History { fallback, .. }
            | RecommenderSpec::Contextual { fallback, .. } => fallback.neighbours_needed(),
            _ => 0,
        }
    }

    /// Calls `visit` with every recipe in this spec and its fallbacks, and the `file` slot
    /// the recipe's product goes into.
    pub fn visit_sources(
        &mut self,
        visit: &mut dyn FnMut(&TrainRecipe, &mut Option<PathBuf>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let per_track = matches!(self, RecommenderSpec::Contextual { .. });
        match self {
            RecommenderSpec::Indexed {
                file,
                source,
                fallback,
                ..
            }
            | RecommenderSpec::History {
                file,
                source,
                fallback,
                ..
            }
            | RecommenderSpec::Contextual {
                file,
                source,
                fallback,
                ..
            } => {
                if let Some(recipe) = source {
                    recipe.check(per_track)?;
                    visit(recipe, file)?;
                }
                fallback.visit_sources(visit)
            }
            _ => Ok(()),
        }
    }

    pub fn build(&self, ctx: &BuildContext) -> anyhow::Result<Box<dyn Recommender>> {
        let service = &ctx.world.service;
        let n_tracks = service.len();
        let no_repeat = |pool: Pool, fallback: Option<Box<dyn Recommender>>| {
            Box::new(NoRepeat {
                pool,
                fallback,
                n_tracks: n_tracks as u32,
            }) as Box<dyn Recommender>
        };
        Ok(match self {
            RecommenderSpec::Random { no_repeat: true } => no_repeat(Pool::Catalogue, None),
            RecommenderSpec::Random { no_repeat: false } => Box::new(RandomTrack {
                n_tracks: n_tracks as u32,
            }),
            RecommenderSpec::TopPop {
                k,
                file,
                no_repeat: unplayed,
            } => {
                if *k == 0 {
                    bail!("top_pop: k must be at least 1");
                }
                let ranking = match file {
                    Some(f) => read_top_tracks(&ctx.resolve(f), n_tracks)?,
                    None => service.popularity.clone(),
                };
                if ranking.is_empty() {
                    bail!("top_pop: the popularity list is empty");
                }
                let top = ranking.into_iter().take(*k).collect();
                if *unplayed {
                    no_repeat(Pool::Fixed(top), None)
                } else {
                    Box::new(TopPop { top })
                }
            }
            RecommenderSpec::StickyArtist { no_repeat: true } => {
                no_repeat(Pool::SameArtist(Arc::clone(service)), None)
            }
            RecommenderSpec::StickyArtist { no_repeat: false } => Box::new(StickyArtist {
                catalogue: Arc::clone(service),
            }),
            RecommenderSpec::Indexed {
                file,
                source,
                fallback,
                no_repeat: unplayed,
            } => {
                let file = list_file("indexed", file, source)?;
                let lists = IdLists::read(&ctx.resolve(file), "user", "tracks", n_tracks)?;
                let fallback = fallback.build(ctx).context("indexed: fallback")?;
                if *unplayed {
                    no_repeat(Pool::PerUser(lists), Some(fallback))
                } else {
                    Box::new(Indexed { lists, fallback })
                }
            }
            RecommenderSpec::History {
                file,
                source,
                max_artist_recs,
                attempts,
                fallback,
            } => {
                let file = list_file("history", file, source)?;
                Box::new(History {
                    lists: IdLists::read(&ctx.resolve(file), "user", "tracks", n_tracks)?,
                    catalogue: Arc::clone(service),
                    max_artist_recs: *max_artist_recs,
                    attempts: *attempts,
                    fallback: fallback.build(ctx).context("history: fallback")?,
                })
            }
            RecommenderSpec::Contextual {
                file,
                source,
                fallback,
                no_repeat: unplayed,
            } => {
                let file = list_file("contextual", file, source)?;
                let lists =
                    IdLists::read(&ctx.resolve(file), "track", "recommendations", n_tracks)?;
                let fallback = fallback.build(ctx).context("contextual: fallback")?;
                if *unplayed {
                    no_repeat(Pool::PerPreviousTrack(lists), Some(fallback))
                } else {
                    Box::new(Contextual { lists, fallback })
                }
            }
            RecommenderSpec::Oracle { candidates } => {
                if *candidates == 0 {
                    bail!("oracle: candidates must be at least 1");
                }
                Box::new(Oracle::new(Arc::clone(&ctx.world), *candidates))
            }
            RecommenderSpec::Console => Box::new(Console::new(
                Arc::new(ctx.world.catalogue.clone()),
                Terminal::stdio(),
            )),
            RecommenderSpec::InProcess { label } => bail!(
                "in_process ({label}): this arm is supplied by the program that runs the \
                 experiment (botify_sim.run in Python), not built from a file"
            ),
            RecommenderSpec::Remote {
                url,
                timeout_ms,
                retries,
                backoff_ms,
                wait_ms,
            } => {
                let remote = Remote::new(RemoteOptions {
                    url: url.clone(),
                    timeout_ms: *timeout_ms,
                    retries: *retries,
                    backoff_ms: *backoff_ms,
                    wait_ms: *wait_ms,
                })
                .map_err(anyhow::Error::msg)?;
                // Fail fast, naming the URL, when nothing answers there.
                remote.probe()?;
                Box::new(remote)
            }
        })
    }
}
