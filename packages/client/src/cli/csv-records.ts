/**
 * Counts the CSV records in text that arrives in pieces, to compare a download with what its
 * server said it would hold. A record ends at a line end outside quotes: a quoted cell may
 * hold line ends (an error message, a tag), and a quote doubled inside one toggles twice and
 * changes nothing. A last record without its line end (a transfer cut mid-row) is not counted.
 */
export interface CsvRecordCounter {
  add(text: string): void;
  readonly records: number;
}

const QUOTE = 34;
const LINE_FEED = 10;

export function csvRecordCounter(): CsvRecordCounter {
  let quoted = false;
  let records = 0;
  return {
    add(text) {
      for (let i = 0; i < text.length; i++) {
        const code = text.charCodeAt(i);
        if (code === QUOTE) quoted = !quoted;
        else if (code === LINE_FEED && !quoted) records++;
      }
    },
    get records() {
      return records;
    },
  };
}
