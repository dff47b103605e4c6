//! The department suggestion (分类推荐): a multinomial naive-Bayes model over the tokens of
//! the hall's own past requests (tokenised by jieba, `crate::fallback::library::tokens`),
//! ranking categories for a new request's text. The dispatcher decides; the model only
//! orders the choices.
//!
//! Training counts, per category, how many requests it had (the prior) and how often each
//! token occurred in them. Scoring a text: log P(c) + Σ over its tokens of
//! log((count(token, c) + 1) / (tokens(c) + |V|)) — Laplace smoothing over the vocabulary
//! V, so an unseen token neither rules a category out nor favours one. Scores are turned
//! into shares that sum to 1 (softmax of the log scores) for the page.

use std::collections::HashMap;

/// A trained model (retrained by a command from the stored history; stored as JSON).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Model {
    /// Per category: requests, tokens in total, and the count of each token.
    categories: Vec<(String, u64, u64, HashMap<String, u64>)>,
    vocabulary: usize,
    requests: u64,
}

/// A category with its share of the model's belief (0–1).
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub category: String,
    pub share: f64,
}

impl Model {
    /// Trains on `(category code, tokens)` of past requests.
    pub fn train<'a>(history: impl IntoIterator<Item = (&'a str, Vec<String>)>) -> Model {
        let mut by: HashMap<String, (u64, u64, HashMap<String, u64>)> = HashMap::new();
        let mut vocabulary: HashMap<String, ()> = HashMap::new();
        let mut requests = 0;
        for (category, tokens) in history {
            requests += 1;
            let entry = by.entry(category.to_string()).or_default();
            entry.0 += 1;
            for t in tokens {
                entry.1 += 1;
                *entry.2.entry(t.clone()).or_default() += 1;
                vocabulary.insert(t, ());
            }
        }
        let mut categories: Vec<_> = by
            .into_iter()
            .map(|(c, (n, total, counts))| (c, n, total, counts))
            .collect();
        categories.sort_by(|a, b| a.0.cmp(&b.0));
        Model {
            categories,
            vocabulary: vocabulary.len(),
            requests,
        }
    }

    /// The top `n` categories for `tokens`, best first (ties by category code).
    pub fn rank(&self, tokens: &[String], n: usize) -> Vec<Suggestion> {
        if self.requests == 0 {
            return vec![];
        }
        let v = self.vocabulary.max(1) as f64;
        let mut scored: Vec<(String, f64)> = self
            .categories
            .iter()
            .map(|(c, docs, total, counts)| {
                let prior = (*docs as f64 / self.requests as f64).ln();
                let likelihood: f64 = tokens
                    .iter()
                    .map(|t| {
                        let k = counts.get(t).copied().unwrap_or(0) as f64;
                        ((k + 1.0) / (*total as f64 + v)).ln()
                    })
                    .sum();
                (c.clone(), prior + likelihood)
            })
            .collect();
        let best = scored.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = scored.iter().map(|s| (s.1 - best).exp()).sum();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        scored
            .into_iter()
            .take(n)
            .map(|(category, s)| Suggestion {
                category,
                share: (s - best).exp() / sum,
            })
            .collect()
    }

    /// How many requests it was trained on.
    pub fn trained_on(&self) -> u64 {
        self.requests
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fallback::library::tokens;

    fn model() -> Model {
        let history = [
            ("roads", "小区门口道路破损坑洼，雨天积水"),
            ("roads", "人行道砖块松动，老人容易摔倒"),
            ("roads", "路面塌陷，车辆无法通行"),
            ("lights", "路灯不亮，晚上出行不安全"),
            ("lights", "小区路灯坏了好几天"),
            ("noise", "夜间施工噪音扰民，影响休息"),
            ("noise", "广场舞音响声音太大，噪音扰民"),
        ];
        Model::train(history.iter().map(|(c, t)| (*c, tokens(t))))
    }

    #[test]
    fn the_words_of_a_category_rank_it_first() {
        let m = model();
        let top = m.rank(&tokens("晚上路灯不亮"), 3);
        assert_eq!(top[0].category, "lights", "{top:?}");
        let top = m.rank(&tokens("楼下工地夜间施工噪音太大"), 3);
        assert_eq!(top[0].category, "noise", "{top:?}");
        let top = m.rank(&tokens("道路坑洼积水"), 3);
        assert_eq!(top[0].category, "roads", "{top:?}");
        assert_eq!(top.len(), 3);
        let sum: f64 = m
            .rank(&tokens("道路坑洼积水"), 10)
            .iter()
            .map(|s| s.share)
            .sum();
        assert!((sum - 1.0).abs() < 1e-9, "shares sum to one: {sum}");
    }

    #[test]
    fn the_scores_are_the_formula_s_on_a_hand_counted_set() {
        // A: two requests, tokens 路灯 不亮 | 路灯; B: one request, token 噪音. Vocabulary 3.
        let m = Model::train([
            ("A", vec!["路灯".to_string(), "不亮".to_string()]),
            ("A", vec!["路灯".to_string()]),
            ("B", vec!["噪音".to_string()]),
        ]);
        // 路灯: A = 2/3 · (2+1)/(3+3) = 1/3; B = 1/3 · (0+1)/(1+3) = 1/12; shares 4/5, 1/5.
        let top = m.rank(&["路灯".to_string()], 2);
        assert_eq!(top[0].category, "A");
        assert!((top[0].share - 0.8).abs() < 1e-12, "{top:?}");
        assert!((top[1].share - 0.2).abs() < 1e-12, "{top:?}");
        // An unseen token scales both by 1/(tokens + 3): A 1/6, B 1/4 — B's thinner history
        // weighs less, so 未知: A = 2/3 · 1/6 = 1/9, B = 1/3 · 1/4 = 1/12; shares 4/7, 3/7.
        let top = m.rank(&["未知".to_string()], 2);
        assert!((top[0].share - 4.0 / 7.0).abs() < 1e-12, "{top:?}");
        // The tokeniser keeps the words the model counts.
        // (jieba's own cut: single characters, punctuation and digits are dropped.)
        assert_eq!(
            tokens("夜间施工噪音扰民！3号楼"),
            ["夜间", "施工", "噪音", "扰民", "号楼"]
        );
    }

    #[test]
    fn with_no_known_word_the_prior_decides() {
        let top = model().rank(&tokens("某某某"), 1);
        assert_eq!(top[0].category, "roads", "the category with most requests");
        assert!(Model::default().rank(&tokens("路灯"), 3).is_empty());
    }
}
