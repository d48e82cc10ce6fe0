/** Browser privacy signals. */

/** Do Not Track ("1") or Global Privacy Control is on. */
export const dnt = (): boolean | undefined =>
  navigator.doNotTrack == "1" || (navigator as Navigator & { globalPrivacyControl?: boolean }).globalPrivacyControl;
