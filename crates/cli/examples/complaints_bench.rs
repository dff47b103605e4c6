//! 接诉即办 benchmarks of issue 13 that need no HTTP:
//!
//! - `duplicates` — the duplicate check (`store::complaints::requests::duplicates`) against
//!   `--rows` past requests (1,000,000): a fresh database (a SQLite file is deleted first; a
//!   PostgreSQL database must be empty) is migrated and seeded with the demo (its categories
//!   and requests included), then the rows are inserted in bulk — multi-row `INSERT`s,
//!   20,000 rows per transaction, no events or audit entries — received over the 365 days
//!   before the app's "today" (2026-11-23 10:00 Beijing), from ~`--phones` (50,000) distinct
//!   phone numbers, in the 8 demo categories (weighted as a street's mix), at points
//!   scattered over a 5 km × 5 km box around the demo street, nine in ten received by
//!   幸福街道 and one in ten by the district, mostly closed. PostgreSQL is `ANALYZE`d after
//!   the load (autovacuum would do it as the rows trickle in); SQLite is not (the application
//!   never analyses). Then, one caller, `--calls` (3,000) calls each of (a) a phone lookup
//!   (a phone number of the data, the street's scope, the settings' 30 days / 200 m),
//!   (b) a category + place lookup (a random category and point in the box, no phone), (c)
//!   both at once (what the intake form's check sends), timed p50/p99; and the plans
//!   (SQLite `EXPLAIN QUERY PLAN`; PostgreSQL `EXPLAIN (ANALYZE, BUFFERS)` of the custom and
//!   of the generic plan) of the two statements, copied from `duplicates` (not exported).
//!   `--then-sql SQL` runs one statement after that (e.g. an index to try, on this scratch
//!   database only; `ANALYZE` again on PostgreSQL) and repeats the lookups and plans.
//!   `--store-train` also times `store::complaints::suggest::train` (the command) on the
//!   newest 100,000 rows, with no hold-out and with 20% of them held out.
//! - `suggest` — the department suggestion's accuracy and latency, no database: a corpus
//!   of realistic requests for the 8 demo categories, generated from templates × places ×
//!   details with a fixed seed (`--seed`), exact repeats removed; trained on 80%
//!   (`Model::train`, tokenising included in the training time) and measured on the
//!   held-out 20%: top-1 and top-3 accuracy, and per request `tokens` + `Model::rank` p50/p99
//!   (`--rounds` passes over the held-out set). Twice: a random 80/20 split of the requests,
//!   and a split by template (a fifth of each category's templates never seen in training:
//!   the wordings of a new kind of request).
//!
//! Commands (BENCHMARKS.md, issue 13):
//!
//!     cargo build --release --example complaints_bench
//!     ./target/release/examples/complaints_bench --bench suggest
//!     ./target/release/examples/complaints_bench --bench duplicates --database sqlite:///tmp/ow-cb.db
//!     ./target/release/examples/complaints_bench --bench duplicates --database postgres://postgres@127.0.0.1:55998/owcb

use onewindow_domain::complaints::suggest::Model;
use onewindow_domain::fallback::library::tokens;
use onewindow_store::complaints::requests as store_requests;
use onewindow_store::{demo, orgs, Backend, Store, StoreOptions};
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;
/// 2026-11-23T02:00:00Z (10:00 Beijing) in microseconds: the app's "today".
const NOW: i64 = 1_795_399_200_000_000;
/// The box the requests' places are scattered over: ~5 km × 5 km around the demo street.
const LAT0: f64 = 39.885;
const LON0: f64 = 116.37;
const DLAT: f64 = 0.045; // 5 km / 111 km
const DLON: f64 = 0.0586; // 5 km / (111 km × cos 39.9°)

struct Args {
    bench: String,
    database: String,
    rows: u64,
    phones: u64,
    calls: usize,
    seed: u64,
    rounds: usize,
    store_train: bool,
    then_sql: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        bench: "suggest".into(),
        database: "sqlite:///tmp/ow-complaints-bench.db".into(),
        rows: 1_000_000,
        phones: 50_000,
        calls: 3_000,
        seed: 13,
        rounds: 20,
        store_train: false,
        then_sql: None,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--store-train" => {
                a.store_train = true;
                i += 1;
                continue;
            }
            "--bench" => a.bench = val,
            "--database" => a.database = val,
            "--rows" => a.rows = val.parse().expect("--rows N"),
            "--phones" => a.phones = val.parse().expect("--phones N"),
            "--calls" => a.calls = val.parse().expect("--calls N"),
            "--seed" => a.seed = val.parse().expect("--seed N"),
            "--rounds" => a.rounds = val.parse().expect("--rounds N"),
            "--then-sql" => a.then_sql = Some(val),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

/// splitmix64: a small deterministic generator (the corpus is the same on every machine).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

fn pct_ms(v: &mut [u64], p: f64) -> f64 {
    v.sort_unstable();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let a = args();
    match a.bench.as_str() {
        "suggest" => bench_suggest(&a),
        "duplicates" => bench_duplicates(&a).await,
        other => panic!("unknown --bench {other} (suggest, duplicates)"),
    }
}

// ---- the corpus ------------------------------------------------------------------------

/// Places in and around the demo street (shared by every category: they say nothing of it).
const PLACES: [&str; 24] = [
    "幸福小区3号楼",
    "幸福小区北门",
    "阳光路与和平街交叉口",
    "东风社区菜市场门口",
    "和平里小学附近",
    "幸福路公交站旁",
    "阳光花园东门",
    "建设路82号",
    "幸福街道办事处对面",
    "和平社区南门",
    "东风路地铁站B口",
    "阳光社区老年活动中心旁",
    "光明里5号院",
    "新华街与幸福路路口",
    "和平里二区12号楼",
    "东风小区西侧",
    "幸福家园7号楼下",
    "阳光商业街",
    "和平路与建设路交叉口",
    "东风社区卫生站旁边",
    "光明里小区门口",
    "新华书店后面的胡同",
    "幸福路17号院",
    "和平公园北侧",
];

/// What people add before or after (shared by every category).
const OPENINGS: [&str; 6] = [
    "您好，",
    "我是附近居民，",
    "你好，我想反映一下，",
    "我要反映个问题，",
    "麻烦问一下，",
    "",
];
const CLOSINGS: [&str; 10] = [
    "，已经一个多星期了",
    "，好几天了没人管",
    "，反映过多次一直没有解决",
    "，希望尽快处理",
    "，请相关部门管一管",
    "，老人孩子出行很不方便",
    "，希望给个答复",
    "，打了好几次电话了",
    "，请尽快派人来看看",
    "，谢谢",
];

/// Per category: its weight in the mix and its templates; `{p}` is a place, `{a}`/`{b}`
/// take one of the category's details.
struct Kind {
    code: &'static str,
    weight: usize,
    templates: &'static [&'static str],
    a: &'static [&'static str],
    b: &'static [&'static str],
}

const KINDS: [Kind; 8] = [
    Kind {
        code: "city.roads",
        weight: 16,
        templates: &[
            "{p}路面破损坑洼，{a}",
            "{p}井盖{b}，{a}",
            "{p}人行道砖块松动翘起，{a}",
            "{p}道路塌陷出现一个大坑，{a}",
            "{p}的护栏被车撞坏了，一直没人修",
            "{p}下水道堵塞，路面积水{b}",
            "{p}减速带坏了，车开过去颠得厉害",
            "{p}盲道砖碎了好几块，{a}",
            "{p}马路上的沥青翻起来了，{a}",
            "小区门口道路{b}，{a}",
        ],
        a: &[
            "下雨天积水严重",
            "晚上走路容易摔倒",
            "车辆经过很危险",
            "电动车已经摔了好几个人",
            "老人走路容易崴脚",
        ],
        b: &["缺失", "破损", "松动", "下沉", "坑洼不平"],
    },
    Kind {
        code: "city.lights",
        weight: 11,
        templates: &[
            "{p}路灯不亮{a}，晚上出行不安全",
            "{p}的路灯忽明忽暗，{b}",
            "{p}路灯灯杆倾斜，担心倒下砸人",
            "{p}路灯白天一直亮着，浪费电",
            "{p}一排路灯全部不亮，{b}",
            "{p}路灯灯罩掉了，电线露在外面",
            "{p}新装的路灯一直没通电，{b}",
            "{p}有一盏路灯坏了{a}",
        ],
        a: &["好几天了", "快一个月了", "两个星期了", "从上周开始"],
        b: &[
            "晚上黑乎乎的",
            "夜里根本看不清路",
            "孩子晚上放学回家害怕",
            "晚上散步很不安全",
        ],
    },
    Kind {
        code: "city.noise",
        weight: 14,
        templates: &[
            "{p}工地{a}还在施工，噪音很大，{b}",
            "{p}广场舞音响声音太大，{b}",
            "{p}商铺门口大喇叭循环播放促销，{b}",
            "{p}的酒吧营业到凌晨，声音扰民",
            "楼上装修电钻声从早到晚，{b}",
            "{p}烧烤店{a}喧哗吵闹，{b}",
            "{p}的工地{a}用渣土车进出，噪音扰民",
            "{p}有人{a}在楼下唱歌，音响开得很大",
        ],
        a: &["夜里十二点", "凌晨两三点", "晚上十点以后", "每天早上六点"],
        b: &[
            "影响休息",
            "根本睡不着觉",
            "家里老人心脏不好受不了",
            "孩子没法写作业",
        ],
    },
    Kind {
        code: "housing.property",
        weight: 16,
        templates: &[
            "{p}电梯经常故障，物业{a}",
            "小区物业服务差，{b}，物业{a}",
            "想咨询维修基金怎么申请，{p}的楼顶漏水",
            "{p}楼道里的灯坏了，物业{a}",
            "小区内部道路破损，物业说不归他们管",
            "{p}水管漏水，物业{a}",
            "物业费涨价了，没有公示也没开业主大会",
            "{p}垃圾堆放多日不清运，{b}",
            "{p}小区停车位被外来车辆占用，物业{a}",
            "{p}单元门门禁坏了，物业{a}",
        ],
        a: &["不及时维修", "推来推去不管", "一直拖着不处理", "说没有钱修"],
        b: &["楼道里臭气熏天", "业主意见很大", "蚊虫很多", "垃圾桶都满了"],
    },
    Kind {
        code: "social.assistance",
        weight: 8,
        templates: &[
            "咨询低保申请需要什么材料，{a}",
            "家里老人{b}，想申请养老服务补贴",
            "{a}，生活困难，想申请临时救助",
            "低保年审需要准备什么，{a}",
            "我是残疾人，{a}，残疾人补贴这个月没到账",
            "{p}有位独居老人{b}，希望社区上门照顾",
            "想问问特困供养怎么申请，{a}",
            "高龄津贴一直没有发，老人{b}",
        ],
        a: &[
            "家里没有收入",
            "丈夫生病住院了",
            "刚失业没有收入",
            "一个人带两个孩子",
        ],
        b: &["失能卧床", "八十多岁了", "行动不便", "患有老年痴呆"],
    },
    Kind {
        code: "market.food",
        weight: 9,
        templates: &[
            "{p}的超市卖过期{a}",
            "{p}路边摊无证经营，{b}",
            "{p}的餐馆后厨卫生差，吃了以后拉肚子",
            "在{p}的饭店吃饭，菜里吃出了{b}",
            "{p}菜市场卖肉的缺斤少两",
            "{p}的小卖部卖的{a}没有中文标签",
            "{p}有家饭店用地沟油，{b}",
            "{p}的奶茶店没有健康证就上岗",
        ],
        a: &["牛奶", "面包", "零食", "饮料"],
        b: &["卫生很差", "苍蝇乱飞", "头发", "虫子"],
    },
    Kind {
        code: "health.clinic",
        weight: 7,
        templates: &[
            "社区医院{a}预约不上，{b}",
            "{p}的社区卫生服务站看病排队太久，{b}",
            "社区医院医生态度不好，看病问几句就不耐烦",
            "签了家庭医生以后一直联系不上，{b}",
            "社区医院常用药开不到，{b}",
            "{p}的诊所无证行医，{b}",
            "孩子{a}要等一个月，{b}",
            "社区卫生服务中心{a}的时间太短了",
        ],
        a: &["疫苗接种", "体检", "打流感疫苗", "慢病随访"],
        b: &[
            "老人要跑很远",
            "希望增加号源",
            "很不方便",
            "希望卫健委管一管",
        ],
    },
    Kind {
        code: "hall.service",
        weight: 5,
        templates: &[
            "大厅{a}工作人员态度生硬，不耐烦",
            "{a}让我跑了三次还没办成，{b}",
            "{a}工作人员上班时间玩手机，{b}",
            "便民服务中心的取号机坏了，{b}",
            "办事窗口一次性告知不清楚，材料让我反复补",
            "{a}工作人员中午提前下班，{b}",
            "在服务大厅办事被推来推去，{b}",
        ],
        a: &["综合受理窗口", "3号窗口", "社保窗口", "便民服务中心"],
        b: &["群众意见很大", "排了两个小时队", "白跑一趟", "希望整改"],
    },
];

/// One generated request: category, which template, the text.
struct Sample {
    category: &'static str,
    template: usize,
    text: String,
    /// Also mentions a matter of another category.
    mixed: bool,
}

fn fill(kind: &Kind, template: usize, rng: &mut Rng) -> String {
    kind.templates[template]
        .replace("{p}", rng.pick(&PLACES))
        .replace("{a}", rng.pick(kind.a))
        .replace("{b}", rng.pick(kind.b))
}

/// `n` requests in the categories' mix (one in seven or so also mentions a matter of
/// another category, after the first), exact repeats removed.
fn corpus(seed: u64, n: usize) -> Vec<Sample> {
    let mut rng = Rng(seed);
    let total: usize = KINDS.iter().map(|k| k.weight).sum();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for _ in 0..n {
        let mut r = rng.below(total);
        let kind = KINDS
            .iter()
            .find(|k| {
                if r < k.weight {
                    true
                } else {
                    r -= k.weight;
                    false
                }
            })
            .unwrap();
        let template = rng.below(kind.templates.len());
        let mut text = fill(kind, template, &mut rng);
        let mut mixed = false;
        // People often mention a second matter: the request is filed under the first.
        if rng.unit() < 0.15 {
            let other = &KINDS[rng.below(KINDS.len())];
            if other.code != kind.code {
                let t = rng.below(other.templates.len());
                text = format!("{text}，另外{}", fill(other, t, &mut rng));
                mixed = true;
            }
        }
        if rng.unit() < 0.4 {
            text = format!("{}{text}", rng.pick(&OPENINGS));
        }
        if rng.unit() < 0.5 {
            text.push_str(rng.pick(&CLOSINGS));
        }
        text.push('。');
        if seen.insert(text.clone()) {
            out.push(Sample {
                category: kind.code,
                template,
                text,
                mixed,
            });
        }
    }
    out
}

// ---- suggest ----------------------------------------------------------------------------

fn bench_suggest(a: &Args) {
    let t = Instant::now();
    let _ = tokens("路灯不亮");
    println!(
        "tokeniser start-up (jieba dictionary, first call): {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let all = corpus(a.seed, 1_000);
    let mut per: HashMap<&str, usize> = HashMap::new();
    for s in &all {
        *per.entry(s.category).or_default() += 1;
    }
    let mut mix: Vec<_> = per.into_iter().collect();
    mix.sort();
    println!(
        "corpus: {} distinct requests (seed {}); {mix:?}",
        all.len(),
        a.seed
    );
    for s in all.iter().step_by(97).take(6) {
        println!("  e.g. [{}] {}", s.category, s.text);
    }

    // Random 80/20: a fixed shuffle of the requests.
    let mut order: Vec<usize> = (0..all.len()).collect();
    let mut rng = Rng(a.seed ^ 0x5eed);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let cut = all.len() * 4 / 5;
    let random: Vec<bool> = {
        let mut held = vec![false; all.len()];
        for &i in &order[cut..] {
            held[i] = true;
        }
        held
    };
    // By template: a fifth of each category's templates (at least one) held out.
    let by_template: Vec<bool> = {
        let mut rng = Rng(a.seed ^ 0x7e3);
        let held: HashSet<(&str, usize)> = KINDS
            .iter()
            .flat_map(|k| {
                let n = (k.templates.len() / 5).max(1);
                let mut idx: Vec<usize> = (0..k.templates.len()).collect();
                for i in (1..idx.len()).rev() {
                    idx.swap(i, rng.below(i + 1));
                }
                idx.into_iter().take(n).map(move |t| (k.code, t))
            })
            .collect();
        all.iter()
            .map(|s| held.contains(&(s.category, s.template)))
            .collect()
    };
    for (label, held) in [
        ("random 80/20", &random),
        ("unseen templates", &by_template),
    ] {
        measure_split(label, &all, held, a.rounds);
    }
}

fn measure_split(label: &str, all: &[Sample], held: &[bool], rounds: usize) {
    let train: Vec<&Sample> = all
        .iter()
        .zip(held)
        .filter(|(_, h)| !**h)
        .map(|x| x.0)
        .collect();
    let test: Vec<&Sample> = all
        .iter()
        .zip(held)
        .filter(|(_, h)| **h)
        .map(|x| x.0)
        .collect();
    let t = Instant::now();
    let tokenised: Vec<(&str, Vec<String>)> = train
        .iter()
        .map(|s| (s.category, tokens(&s.text)))
        .collect();
    let tokenise_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t2 = Instant::now();
    let model = Model::train(tokenised);
    let train_ms = t2.elapsed().as_secs_f64() * 1000.0;
    let json = serde_json::to_string(&model).unwrap().len();
    let (mut top1, mut top3) = (0usize, 0usize);
    let (mut mixed, mut mixed_top1) = (0usize, 0usize);
    let mut confusions: HashMap<(&str, String), usize> = HashMap::new();
    let mut lat = Vec::with_capacity(test.len() * rounds);
    for round in 0..rounds {
        for s in &test {
            let t = Instant::now();
            let ranked = model.rank(&tokens(&s.text), 3);
            lat.push(t.elapsed().as_nanos() as u64);
            if round == 0 {
                let hit = ranked.first().is_some_and(|r| r.category == s.category);
                mixed += usize::from(s.mixed);
                mixed_top1 += usize::from(s.mixed && hit);
                if hit {
                    top1 += 1;
                } else if let Some(r) = ranked.first() {
                    *confusions
                        .entry((s.category, r.category.clone()))
                        .or_default() += 1;
                }
                if ranked.iter().any(|r| r.category == s.category) {
                    top3 += 1;
                }
            }
        }
    }
    let n = test.len() as f64;
    let p = |v: &mut Vec<u64>, q: f64| {
        v.sort_unstable();
        v[((v.len() as f64 * q) as usize).min(v.len() - 1)] as f64 / 1000.0
    };
    println!(
        "{label}: train {} / held out {}; training {:.1} ms ({:.1} ms tokenising + {:.2} ms Model::train), model JSON {} bytes",
        train.len(),
        test.len(),
        tokenise_ms + train_ms,
        tokenise_ms,
        train_ms,
        json
    );
    println!(
        "  top-1 {:.1}% ({top1}/{})  top-3 {:.1}% ({top3}/{})  tokens + rank per request: p50 {:.1} µs  p99 {:.1} µs  ({} timings)",
        100.0 * top1 as f64 / n,
        test.len(),
        100.0 * top3 as f64 / n,
        test.len(),
        p(&mut lat, 0.50),
        p(&mut lat, 0.99),
        lat.len()
    );
    let mut c: Vec<_> = confusions.into_iter().collect();
    c.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    let c: Vec<String> = c
        .iter()
        .take(6)
        .map(|((want, got), k)| format!("{want}→{got} ×{k}"))
        .collect();
    println!(
        "  of which mentioning a second matter: {mixed}, top-1 {mixed_top1}/{mixed}; single matter top-1 {}/{}",
        top1 - mixed_top1,
        test.len() - mixed
    );
    println!("  top-1 misses: {}", c.join(", "));
}

// ---- duplicates -------------------------------------------------------------------------

/// The two statements of `duplicates` (copied: the function does not export them).
const BASE: &str = "SELECT c.id, c.request_no, c.state, c.received_at, c.content, c.address, c.lat, \
        c.lon, c.complained_user_id FROM complaints c JOIN orgs o ON o.id = c.org_id WHERE o.path >= $1 AND o.path < $2 \
        AND c.received_at >= $3 AND c.original_id IS NULL";

fn phone_sql() -> String {
    format!("{BASE} AND c.person_phone = $4 ORDER BY c.received_at DESC LIMIT 20")
}

fn place_sql() -> String {
    format!(
        "{BASE} AND c.category_id = $4 AND c.lat BETWEEN $5 AND $6 AND c.lon BETWEEN $7 AND $8 \
         ORDER BY c.received_at DESC LIMIT 50"
    )
}

fn phone_of(k: u64) -> String {
    format!("139{:08}", 10_000_000 + k * 37)
}

async fn bench_duplicates(a: &Args) {
    if let Some(path) = a.database.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
    let store = Store::open(&a.database, &StoreOptions::default())
        .await
        .expect("open database");
    assert!(
        demo::seed(&store, NOW).await.expect("seed"),
        "the database must be empty (a fresh one per run)"
    );
    onewindow_store::complaints::demo::seed(&store, NOW)
        .await
        .expect("complaints demo");
    let reader = store.reader();
    let street = orgs::find_by_code(reader, "xingfu").await.unwrap().unwrap();
    let district = orgs::find_by_code(reader, "district")
        .await
        .unwrap()
        .unwrap();
    let cg = orgs::find_by_code(reader, "dept-cg")
        .await
        .unwrap()
        .unwrap()
        .id;
    let dispatcher: i64 = sqlx::query("SELECT id FROM users WHERE username = 'dispatcher'")
        .fetch_one(reader)
        .await
        .unwrap()
        .get("id");
    let mut categories: Vec<(i64, &str)> = Vec::new();
    for k in &KINDS {
        let id: i64 = sqlx::query("SELECT id FROM complaint_categories WHERE code = $1")
            .bind(k.code)
            .fetch_one(reader)
            .await
            .unwrap()
            .get("id");
        categories.push((id, k.code));
    }
    let texts = corpus(a.seed, 1_000);
    let by_category: HashMap<&str, Vec<&str>> = texts.iter().fold(HashMap::new(), |mut m, s| {
        m.entry(s.category).or_default().push(s.text.as_str());
        m
    });
    let total_weight: usize = KINDS.iter().map(|k| k.weight).sum();

    // The bulk load.
    let started = Instant::now();
    let mut rng = Rng(a.seed ^ 0xd00b);
    const PER_STATEMENT: u64 = 1_000;
    const PER_TX: u64 = 20_000;
    let mut done = 0u64;
    while done < a.rows {
        let mut tx = store.begin().await.unwrap();
        let end = (done + PER_TX).min(a.rows);
        while done < end {
            let rows = PER_STATEMENT.min(end - done);
            let mut sql = String::from(
                "INSERT INTO complaints (request_no, query_code, org_id, channel, request_type, \
                 urgency, category_id, content, person_name, person_phone, address, lat, lon, \
                 state, lead_department_id, received_at, dispatched_at, closed_at, created_by) VALUES ",
            );
            for k in 0..rows {
                let i = done + k;
                // Oldest first, evenly over the 365 days before now, with some jitter.
                let at = NOW - 365 * DAY
                    + (i128::from(i) * i128::from(365 * DAY) / i128::from(a.rows)) as i64
                    + (rng.below(600) as i64) * 1_000_000;
                let mut r = rng.below(total_weight);
                let c = KINDS
                    .iter()
                    .position(|k| {
                        if r < k.weight {
                            true
                        } else {
                            r -= k.weight;
                            false
                        }
                    })
                    .unwrap();
                let (category_id, code) = categories[c];
                let list = &by_category[code];
                let text = list[rng.below(list.len())].replace('\'', "''");
                let phone = phone_of(rng.below(a.phones as usize) as u64);
                let lat = LAT0 + rng.unit() * DLAT;
                let lon = LON0 + rng.unit() * DLON;
                let org = if rng.below(10) == 0 {
                    district.id
                } else {
                    street.id
                };
                let recent = at > NOW - 20 * DAY;
                let state = if recent {
                    ["received", "dispatched", "signed", "replied", "closed"][rng.below(5)]
                } else {
                    "closed"
                };
                let lead = if state == "received" {
                    "NULL".to_string()
                } else {
                    cg.to_string()
                };
                let closed = if state == "closed" {
                    (at + 5 * DAY).to_string()
                } else {
                    "NULL".into()
                };
                let dispatched = if state == "received" {
                    "NULL".into()
                } else {
                    (at + HOUR).to_string()
                };
                if k > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "('B{i:011}', 'ABCDEF', {org}, 'phone', 'help', 'ordinary', {category_id}, \
                     '{text}', '市民', '{phone}', '幸福小区', {lat:.6}, {lon:.6}, '{state}', {lead}, \
                     {at}, {dispatched}, {closed}, {dispatcher})"
                ));
            }
            sqlx::query(&sql).execute(&mut *tx).await.unwrap();
            done += rows;
        }
        tx.commit().await.unwrap();
    }
    let load_secs = started.elapsed().as_secs_f64();
    println!(
        "{}: inserted {} requests in {load_secs:.1} s ({:.0} rows/s)",
        store.backend().name(),
        a.rows,
        a.rows as f64 / load_secs
    );
    if store.backend() == Backend::Postgres {
        let t = Instant::now();
        sqlx::query("ANALYZE complaints")
            .execute(reader)
            .await
            .unwrap();
        println!("ANALYZE complaints: {:.1} s", t.elapsed().as_secs_f64());
    }
    let (days, metres) = store_requests::duplicate_window(reader).await.unwrap();
    println!(
        "window: {days} days, {metres} m; scope {} ({})",
        street.name,
        street.path.as_str()
    );

    lookups(&store, a, &street.path, &categories, days, metres).await;
    if let Some(sql) = &a.then_sql {
        let t = Instant::now();
        sqlx::query(sql).execute(reader).await.unwrap();
        if store.backend() == Backend::Postgres {
            sqlx::query("ANALYZE complaints")
                .execute(reader)
                .await
                .unwrap();
        }
        println!(
            "-- then: {sql} ({:.1} s); the same lookups again:",
            t.elapsed().as_secs_f64()
        );
        lookups(&store, a, &street.path, &categories, days, metres).await;
    }
    if a.store_train {
        let ids: Vec<i64> = sqlx::query("SELECT id FROM complaints ORDER BY id DESC LIMIT 100000")
            .fetch_all(reader)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("id"))
            .collect();
        let hold: Vec<i64> = ids.iter().copied().step_by(5).collect();
        let none = Vec::new();
        for (label, hold_out) in [
            ("no hold-out (cold)", &none),
            ("no hold-out", &none),
            ("20% held out", &hold),
        ] {
            let t = Instant::now();
            let mut tx = store.begin().await.unwrap();
            let (_, model) = onewindow_store::complaints::suggest::train(&mut tx, NOW, hold_out)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            println!(
                "store::complaints::suggest::train, {label} ({} ids): {:.1} s, trained on {}",
                hold_out.len(),
                t.elapsed().as_secs_f64(),
                model.trained_on()
            );
        }
    }
}

/// Times the three kinds of lookup and prints the statements' plans.
async fn lookups(
    store: &Store,
    a: &Args,
    scope: &onewindow_domain::org::OrgPath,
    categories: &[(i64, &str)],
    days: i64,
    metres: f64,
) {
    let reader = store.reader();
    // The lookups, one caller.
    let mut rng = Rng(a.seed ^ 0x100c);
    let mut results: Vec<(&str, Vec<u64>, usize)> = Vec::new();
    for which in ["phone", "category + place", "phone + category + place"] {
        let mut lat = Vec::with_capacity(a.calls);
        let mut found = 0usize;
        for call in 0..a.calls + 50 {
            let phone = phone_of(rng.below(a.phones as usize) as u64);
            let (cat, _) = categories[rng.below(categories.len())];
            let place = (LAT0 + rng.unit() * DLAT, LON0 + rng.unit() * DLON);
            let (p, c, pl) = match which {
                "phone" => (phone.as_str(), None, None),
                "category + place" => ("", Some(cat), Some(place)),
                _ => (phone.as_str(), Some(cat), Some(place)),
            };
            let t = Instant::now();
            let out = store_requests::duplicates(reader, scope, NOW, p, c, pl, days, metres, None)
                .await
                .unwrap();
            let us = t.elapsed().as_micros() as u64;
            if call >= 50 {
                // The first 50 warm the caches and the statement cache.
                lat.push(us);
                found += out.len();
            }
        }
        results.push((which, lat, found));
    }
    for (which, mut lat, found) in results {
        println!(
            "duplicates, {which:<26} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  ({} calls, {:.1} possible duplicates per call)",
            pct_ms(&mut lat, 0.50),
            pct_ms(&mut lat, 0.99),
            *lat.last().unwrap() as f64 / 1000.0,
            lat.len(),
            found as f64 / lat.len() as f64
        );
    }

    // The plans.
    let since = NOW - days * DAY;
    let upper = format!("{}0", scope.as_str().trim_end_matches('/'));
    let phone = phone_of(7);
    let (lat0, lon0) = (LAT0 + DLAT / 2.0, LON0 + DLON / 2.0);
    let dlat = metres / 111_000.0;
    let dlon = metres / (111_000.0 * lat0.to_radians().cos());
    let cat = categories[0].0;
    match store.backend() {
        Backend::Sqlite => {
            for (label, sql) in [("phone", phone_sql()), ("category + place", place_sql())] {
                let explain = format!("EXPLAIN QUERY PLAN {sql}");
                let q = sqlx::query(&explain)
                    .bind(scope.as_str())
                    .bind(&upper)
                    .bind(since);
                let q = if label == "phone" {
                    q.bind(&phone)
                } else {
                    q.bind(cat)
                        .bind(lat0 - dlat)
                        .bind(lat0 + dlat)
                        .bind(lon0 - dlon)
                        .bind(lon0 + dlon)
                };
                println!("EXPLAIN QUERY PLAN, {label}:");
                for r in q.fetch_all(reader).await.unwrap() {
                    println!("    {}", r.get::<String, _>("detail"));
                }
            }
        }
        Backend::Postgres => {
            let mut conn = reader.acquire().await.unwrap();
            let phone_args = format!("'{}', '{upper}', {since}, '{phone}'", scope.as_str());
            let place_args = format!(
                "'{}', '{upper}', {since}, {cat}, {}, {}, {}, {}",
                scope.as_str(),
                lat0 - dlat,
                lat0 + dlat,
                lon0 - dlon,
                lon0 + dlon
            );
            sqlx::query(&format!(
                "PREPARE ow_phone(TEXT, TEXT, BIGINT, TEXT) AS {}",
                phone_sql()
            ))
            .execute(&mut *conn)
            .await
            .unwrap();
            sqlx::query(&format!(
                "PREPARE ow_place(TEXT, TEXT, BIGINT, BIGINT, DOUBLE PRECISION, DOUBLE PRECISION, \
                 DOUBLE PRECISION, DOUBLE PRECISION) AS {}",
                place_sql()
            ))
            .execute(&mut *conn)
            .await
            .unwrap();
            for mode in ["force_custom_plan", "force_generic_plan"] {
                sqlx::query(&format!("SET plan_cache_mode = {mode}"))
                    .execute(&mut *conn)
                    .await
                    .unwrap();
                for (label, stmt, args) in [
                    ("phone", "ow_phone", &phone_args),
                    ("category + place", "ow_place", &place_args),
                ] {
                    println!("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF), {label}, {mode}:");
                    let rows = sqlx::query(&format!(
                        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) EXECUTE {stmt}({args})"
                    ))
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap();
                    for r in rows {
                        println!("    {}", r.get::<String, _>(0));
                    }
                }
            }
            sqlx::query("RESET plan_cache_mode")
                .execute(&mut *conn)
                .await
                .unwrap();
            // Only ours: sqlx keeps its own prepared statements on this connection.
            for stmt in ["ow_phone", "ow_place"] {
                sqlx::query(&format!("DEALLOCATE {stmt}"))
                    .execute(&mut *conn)
                    .await
                    .unwrap();
            }
        }
    }
    // How many rows the category's recent range holds (what the place lookup walks).
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM complaints WHERE category_id = $1 AND received_at >= $2",
    )
    .bind(cat)
    .bind(since)
    .fetch_one(reader)
    .await
    .unwrap()
    .get("n");
    println!(
        "rows of category {} in the last {days} days: {n}",
        categories[0].1
    );
}
