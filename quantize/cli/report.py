"""``quantize report``: the HTML page of an earlier batch, from its records."""

from __future__ import annotations

import click

from .options import EXIT_CODES_HELP, _reports_errors


@click.command("report", epilog=EXIT_CODES_HELP)
@click.argument("source", metavar="MANIFEST_OR_JSONL", type=click.Path())
@click.option("-o", "--output", "html_path", required=True, metavar="REPORT.html",
              type=click.Path(dir_okay=False), help="The page to write.")
@click.option("-q", "--quiet", is_flag=True, help="Print no summary.")
@click.option("-v", "--verbose", count=True, help="With an internal error, a traceback.")
@_reports_errors
def report_command(source, html_path, quiet, verbose):
    """Write the HTML page of an earlier batch, as 'batch --html' does.

    MANIFEST_OR_JSONL is the batch's OUTDIR (or its manifest,
    OUTDIR/.quantize-batch.jsonl), or the JSON-lines file of its --report.
    The thumbnails, crops and palettes are made again from the inputs and
    outputs as they are now; relative paths of a JSON-lines report are taken
    from the current directory, as the batch wrote them. A manifest lists the
    files done; a JSON-lines report also the ones that failed, with their
    messages.

    \b
    Examples:
      quantize batch photos/ -o out/ --report run.jsonl
      quantize report run.jsonl -o run.html
      quantize report out/ -o out.html
    """
    from ..run.report import rebuild_html

    page = rebuild_html(source, html_path)
    if not quiet:
        counts = page["counts"]
        click.echo(f"quantize: wrote {html_path!r}: {counts['total']} file(s), "
                   f"{counts['done'] + counts['skipped']} with an output, "
                   f"{counts['failed']} failed", err=True)
