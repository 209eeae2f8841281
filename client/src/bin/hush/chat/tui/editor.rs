//! The line being typed, with a cursor: insert and delete where it stands, move it by a
//! character or to either end, and the part of a long line that a box of some width shows.

use ratatui::text::Span;

/// Text and a cursor (a character index, 0 ..= the number of characters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Editor {
    text: String,
    cursor: usize,
}

impl Editor {
    /// What is typed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Replaces the text; the cursor goes to its end.
    pub fn set(&mut self, text: String) {
        self.cursor = text.chars().count();
        self.text = text;
    }

    /// Takes the text, leaving the editor empty.
    pub fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }

    /// Types `ch` at the cursor.
    pub fn insert(&mut self, ch: char) {
        let at = self.byte_at(self.cursor);
        self.text.insert(at, ch);
        self.cursor += 1;
    }

    /// Deletes the character before the cursor (Backspace).
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
    }

    /// Deletes the character under the cursor (Delete).
    pub fn delete(&mut self) {
        if self.cursor < self.text.chars().count() {
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
    }

    /// Moves the cursor one character left.
    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    /// Moves the cursor one character right.
    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.text.chars().count());
    }

    /// Moves the cursor to the start.
    pub fn home(&mut self) {
        self.cursor = 0;
    }

    /// Moves the cursor to the end.
    pub fn end(&mut self) {
        self.cursor = self.text.chars().count();
    }

    /// What a box `room` columns wide shows, with the cursor in it, and the cursor's column:
    /// as much before the cursor as fits, then what follows it.
    pub fn window(&self, room: usize) -> (String, usize) {
        let before: Vec<char> = self.text.chars().take(self.cursor).collect();
        let mut shown = String::new();
        let mut column = 0;
        // Leave a column for the cursor itself.
        for &ch in before.iter().rev() {
            let width = char_width(ch);
            if column + width >= room.max(1) {
                break;
            }
            column += width;
            shown.insert(0, ch);
        }
        let mut used = column;
        for ch in self.text.chars().skip(self.cursor) {
            let width = char_width(ch);
            if used + width > room {
                break;
            }
            used += width;
            shown.push(ch);
        }
        (shown, column)
    }

    /// The byte offset of character `index` (the end if past it).
    fn byte_at(&self, index: usize) -> usize {
        self.text
            .char_indices()
            .nth(index)
            .map_or(self.text.len(), |(at, _)| at)
    }
}

/// Columns `ch` takes on a terminal.
pub fn char_width(ch: char) -> usize {
    let mut buffer = [0; 4];
    Span::raw(&*ch.encode_utf8(&mut buffer)).width()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str) -> Editor {
        let mut editor = Editor::default();
        text.chars().for_each(|ch| editor.insert(ch));
        editor
    }

    #[test]
    fn edits_happen_at_the_cursor() {
        let mut editor = typed("helo");
        editor.left();
        editor.insert('l');
        assert_eq!(editor.text(), "hello");
        editor.home();
        editor.delete();
        editor.insert('H');
        editor.end();
        editor.backspace();
        assert_eq!(editor.text(), "Hell");
        editor.home();
        editor.backspace();
        editor.left();
        assert_eq!(editor.text(), "Hell");
        editor.end();
        editor.right();
        editor.delete();
        editor.insert('!');
        assert_eq!(editor.text(), "Hell!");
    }

    #[test]
    fn multibyte_characters_are_edited_whole() {
        let mut editor = typed("grüße");
        editor.left();
        editor.left();
        editor.backspace();
        assert_eq!(editor.text(), "grße");
        assert_eq!(editor.take(), "grße");
        assert!(editor.is_empty());
        editor.insert('x');
        assert_eq!(editor.text(), "x");
    }

    #[test]
    fn the_window_keeps_the_cursor_in_view() {
        let mut editor = typed("0123456789");
        assert_eq!(editor.window(20), ("0123456789".to_owned(), 10));
        // At the end of a long line: its tail, and room for the cursor.
        assert_eq!(editor.window(5), ("6789".to_owned(), 4));
        editor.home();
        assert_eq!(editor.window(5), ("01234".to_owned(), 0));
        for _ in 0..3 {
            editor.right();
        }
        assert_eq!(editor.window(5), ("01234".to_owned(), 3));
    }
}
