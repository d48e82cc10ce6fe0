/** Vite's `?raw` imports: a file's text (used to test the README's snippet). */
declare module "*?raw" {
  const text: string;
  export default text;
}
