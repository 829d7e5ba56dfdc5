/**
 * The characters of `text` a terminal would interpret (C0 controls other than newline, DEL, C1 controls such as
 * CSI): output meant for pipes and files holds none.
 */
export function controlCharactersIn(text: string): string[] {
  return [...text].filter((char) => {
    const code = char.codePointAt(0) ?? 0;
    return (code < 0x20 && char !== "\n") || (code >= 0x7f && code < 0xa0);
  });
}
