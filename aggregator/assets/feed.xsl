<?xml version="1.0" encoding="UTF-8"?>
<!--
  Shows an Atom or RSS feed of news-aggregator as a readable page when the feed is
  opened in a browser. Every feed names this file in an xml-stylesheet instruction.
  Only text is shown: RSS descriptions (HTML-escaped text) are unescaped back to
  text, never copied as markup.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    exclude-result-prefixes="atom dc">
  <xsl:output method="html" encoding="UTF-8" indent="yes" doctype-system="about:legacy-compat"/>

  <xsl:template match="/">
    <xsl:variable name="atom" select="/atom:feed"/>
    <xsl:variable name="channel" select="/rss/channel"/>
    <html>
      <xsl:attribute name="lang">
        <xsl:value-of select="$atom/@xml:lang | $channel/language"/>
      </xsl:attribute>
      <head>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$atom/atom:title | $channel/title"/></title>
        <style>
          :root { color-scheme: light dark; --accent: #0b62c4; --muted: #777; }
          * { box-sizing: border-box; }
          body { margin: 0 auto; max-width: 48rem; padding: 1rem;
            font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
          a { color: var(--accent); }
          .notice { background: #8882; border-radius: 0.5rem; padding: 0.5rem 0.75rem; }
          h1 { font-size: 1.8rem; margin: 0.75rem 0 0.25rem; }
          h2 { font-size: 1.15rem; margin: 0 0 0.25rem; }
          article { border-top: 1px solid #8884; padding: 0.75rem 0; overflow-wrap: anywhere; }
          .meta { color: var(--muted); font-size: 0.9rem; margin: 0; }
          .summary { margin: 0.35rem 0 0; }
          @media (prefers-color-scheme: dark) { :root { --accent: #7ab7ff; --muted: #aaa; } }
        </style>
      </head>
      <body>
        <header>
          <p class="notice">This is a web feed. To follow it, copy the address of this
            page into your feed reader.</p>
          <h1><xsl:value-of select="$atom/atom:title | $channel/title"/></h1>
          <p class="meta"><xsl:value-of select="$atom/atom:subtitle | $channel/description"/></p>
          <p>
            <a href="{$atom/atom:link[@rel='alternate']/@href | $channel/link}">All feeds of this site</a>
          </p>
        </header>
        <main>
          <xsl:apply-templates select="$atom/atom:entry | $channel/item"/>
          <xsl:if test="not($atom/atom:entry | $channel/item)">
            <p>No stories at the moment.</p>
          </xsl:if>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="atom:entry">
    <article>
      <h2><a href="{atom:link[@rel='alternate' or not(@rel)][1]/@href}"><xsl:value-of select="atom:title"/></a></h2>
      <p class="meta">
        <xsl:for-each select="atom:author/atom:name">
          <xsl:value-of select="."/><xsl:text> · </xsl:text>
        </xsl:for-each>
        <time datetime="{atom:published}">
          <xsl:value-of select="concat(substring(atom:published, 1, 10), ' ', substring(atom:published, 12, 5), ' UTC')"/>
        </time>
        <xsl:for-each select="atom:category">
          <xsl:text> · </xsl:text><xsl:value-of select="@term"/>
        </xsl:for-each>
      </p>
      <p class="summary"><xsl:value-of select="atom:summary"/></p>
    </article>
  </xsl:template>

  <xsl:template match="item">
    <article>
      <h2><a href="{link}"><xsl:value-of select="title"/></a></h2>
      <p class="meta">
        <xsl:for-each select="dc:creator">
          <xsl:value-of select="."/><xsl:text> · </xsl:text>
        </xsl:for-each>
        <xsl:value-of select="concat(substring(pubDate, 1, 22), ' UTC')"/>
        <xsl:for-each select="category">
          <xsl:text> · </xsl:text><xsl:value-of select="."/>
        </xsl:for-each>
      </p>
      <p class="summary">
        <xsl:call-template name="unescape">
          <xsl:with-param name="text" select="description"/>
        </xsl:call-template>
      </p>
    </article>
  </xsl:template>

  <!-- The text an RSS description escaped as HTML: &lt; &gt; and &amp;, ampersand last. -->
  <xsl:template name="unescape">
    <xsl:param name="text"/>
    <xsl:variable name="less">
      <xsl:call-template name="replace">
        <xsl:with-param name="text" select="$text"/>
        <xsl:with-param name="from" select="'&amp;lt;'"/>
        <xsl:with-param name="to" select="'&lt;'"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:variable name="greater">
      <xsl:call-template name="replace">
        <xsl:with-param name="text" select="string($less)"/>
        <xsl:with-param name="from" select="'&amp;gt;'"/>
        <xsl:with-param name="to" select="'&gt;'"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:call-template name="replace">
      <xsl:with-param name="text" select="string($greater)"/>
      <xsl:with-param name="from" select="'&amp;amp;'"/>
      <xsl:with-param name="to" select="'&amp;'"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="replace">
    <xsl:param name="text"/>
    <xsl:param name="from"/>
    <xsl:param name="to"/>
    <xsl:choose>
      <xsl:when test="contains($text, $from)">
        <xsl:value-of select="substring-before($text, $from)"/>
        <xsl:value-of select="$to"/>
        <xsl:call-template name="replace">
          <xsl:with-param name="text" select="substring-after($text, $from)"/>
          <xsl:with-param name="from" select="$from"/>
          <xsl:with-param name="to" select="$to"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise>
        <xsl:value-of select="$text"/>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>
