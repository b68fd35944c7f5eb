//! A reply made comparable: lowercase, accents folded (so "già" and "gia",
//! "überwiesen" and "uberwiesen" read alike), cut into words, numbers and
//! signs, each with its place.

/// One piece of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Word(String),
    /// A number and how many digits it was written with.
    Number(u32, usize),
    Sign(char),
}

/// Lowercase, accents folded, everything else kept.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => out.push('a'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
            'ç' => out.push('c'),
            'ñ' => out.push('n'),
            'ß' => out.push_str("ss"),
            'œ' => out.push_str("oe"),
            '’' | '`' | '´' => out.push('\''),
            _ => out.push(c),
        }
    }
    out
}

/// The folded text cut into tokens: runs of letters, runs of digits, and
/// single signs; spaces dropped.
pub fn tokens(folded: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = folded.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_alphabetic() {
            let mut word = String::new();
            while let Some(&c) = chars.peek().filter(|c| c.is_alphabetic()) {
                word.push(c);
                chars.next();
            }
            out.push(Token::Word(word));
        } else if c.is_ascii_digit() {
            let (mut value, mut digits) = (0u32, 0usize);
            while let Some(&c) = chars.peek().filter(|c| c.is_ascii_digit()) {
                value = value.saturating_mul(10).saturating_add(c.to_digit(10).unwrap_or(0));
                digits += 1;
                chars.next();
            }
            out.push(Token::Number(value, digits));
        } else {
            if !c.is_whitespace() {
                out.push(Token::Sign(c));
            }
            chars.next();
        }
    }
    out
}

/// Whether a phrase (already folded, words separated by single spaces)
/// begins at token `i`, matched word by word; a phrase word ending in `*`
/// matches any word that starts with it ("pagat*"), a one-sign word that sign.
pub fn at(tokens: &[Token], i: usize, phrase: &str) -> bool {
    phrase.split(' ').enumerate().all(|(k, w)| match tokens.get(i + k) {
        Some(Token::Word(t)) => match w.strip_suffix('*') {
            Some(stem) => t.starts_with(stem),
            None => t == w,
        },
        Some(Token::Sign(c)) => w.len() == 1 && w.starts_with(*c),
        _ => false,
    })
}

/// Where a phrase first begins in `tokens`.
pub fn find(tokens: &[Token], phrase: &str) -> Option<usize> {
    (0..tokens.len()).find(|&i| at(tokens, i, phrase))
}

/// The first of `phrases` found, where it begins, not right after a negation.
/// Only the places where a phrase's first word stands are tried.
pub fn first_of(tokens: &[Token], phrases: &[&str]) -> Option<usize> {
    phrases
        .iter()
        .filter_map(|p| {
            let first = p.split(' ').next().unwrap_or_default();
            (0..tokens.len())
                .filter(|&i| match (&tokens[i], first.strip_suffix('*')) {
                    (Token::Word(w), Some(stem)) => w.starts_with(stem),
                    (Token::Word(w), None) => w == first,
                    (Token::Sign(c), _) => first.len() == 1 && first.starts_with(*c),
                    _ => false,
                })
                .find(|&i| at(tokens, i, p) && !negated(tokens, i))
        })
        .min()
}

/// "non ho pagato", "no hemos pagado", "not paid": a negation right before.
fn negated(tokens: &[Token], at: usize) -> bool {
    const NEGATIONS: &[&str] = &["non", "no", "not", "nicht", "kein", "keine", "pas", "never", "mai", "nie", "nunca"];
    at.checked_sub(1)
        .and_then(|i| tokens.get(i))
        .is_some_and(|t| matches!(t, Token::Word(w) if NEGATIONS.contains(&w.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_tokens() {
        assert_eq!(fold("Già PAGATO, überwiesen"), "gia pagato, uberwiesen");
        let t = tokens(&fold("bis zum 15.1."));
        assert_eq!(
            t,
            [
                Token::Word("bis".into()),
                Token::Word("zum".into()),
                Token::Number(15, 2),
                Token::Sign('.'),
                Token::Number(1, 1),
                Token::Sign('.')
            ]
        );
        assert_eq!(find(&t, "bis zum"), Some(0));
        assert_eq!(find(&tokens("abbiamo pagato"), "abbiamo pagat*"), Some(0));
        assert_eq!(first_of(&tokens("non abbiamo pagato"), &["abbiamo pagat*"]), None);
        assert_eq!(first_of(&tokens("non ho pagato"), &["ho pagat*"]), None);
    }
}
