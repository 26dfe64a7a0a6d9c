// Copying text for the copy buttons, also where the Clipboard API is missing.

/**
 * The Clipboard API exists only on https and localhost, and a Nook reached at http://192.168.x.x is
 * neither; there the old selection copy still works. It must happen inside `container`: outside an
 * open modal dialog nothing can be selected.
 */
export async function copyText(text: string, container: HTMLElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    container.append(area);
    area.select();
    try {
      return document.execCommand('copy');
    } finally {
      area.remove();
    }
  }
}
